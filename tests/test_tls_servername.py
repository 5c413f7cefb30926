"""``socket.servername``: the SNI host name a client sent, read from its ClientHello
(net/hello.py) as Node reads it (the bytes as latin-1). A name with bytes of 0x80 and
above (raw UTF-8, as ``openssl s_client -servername café.example`` sends it) is served as
any other; ASCII names are given as they were sent (case and a trailing dot kept). The
hello's server_name extension read by hand: cut, lying or repeated entries are never an
error of the reader."""

import json
import random
import re
import ssl
import subprocess

import pytest

from debian import ensure
from prefork.net.hello import HelloReader, offered_alpn, offered_servername
from test_tls import pki, shared  # noqa: F401  (fixtures)

CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def s_client(port, pki, name):  # noqa: F811
    """The app's view of a connection whose ClientHello carries ``name`` (bytes) by SNI."""
    path, why = ensure("openssl", "openssl")
    if path is None:
        pytest.skip(why)
    result = subprocess.run([path.encode(), b"s_client", b"-connect", f"127.0.0.1:{port}".encode(), b"-CAfile",
                             pki.ca.encode(), b"-servername", name, b"-ign_eof"], input=CLOSE,
                            capture_output=True, timeout=60)
    out = result.stdout.decode("latin-1")
    assert "HTTP/1.1 200 OK" in out, (out + result.stderr.decode("latin-1"))[-2000:]
    return json.loads(re.search(r'\{"pid".*?\}', out).group(0))  # (no brace inside)


@pytest.mark.parametrize("name", [b"caf\xc3\xa9.example", b"\xff\x80.example", b"LocalHost", b"localhost.",
                                  b"xn--nxasmq6b.example", b"a" * 250],
                         ids=["utf-8", "high-bytes", "upper-case", "trailing-dot", "a-label", "long"])
def test_servername_is_the_sni_name_as_sent(shared, pki, name):  # noqa: F811
    """Node gives the name's bytes read as latin-1; an ASCII name is given as it came."""
    before = shared.log()
    seen = s_client(shared.port, pki, name)
    assert seen["encrypted"] is True and seen["servername"] == name.decode("latin-1"), seen
    added = shared.log()[len(before):]
    assert "Exception ignored" not in added and "UnicodeDecodeError" not in added, added


# -- the reader ------------------------------------------------------------------------------------------
def _hello(extensions):
    """A ClientHello record with ``extensions`` ([(type, body)]) after a fixed prefix."""
    exts = b"".join(kind.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body for kind, body in extensions)
    body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
            + len(exts).to_bytes(2, "big") + exts)
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message


def _sni(*entries, list_size=None):
    names = b"".join(bytes([kind]) + len(name).to_bytes(2, "big") + name for kind, name in entries)
    return 0, (len(names) if list_size is None else list_size).to_bytes(2, "big") + names


ALPN = (16, b"\x00\x09\x08http/1.1")


def test_a_python_clients_hello_gives_its_name_and_offer():
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    client = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="Example.COM")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    data = outgoing.read()
    assert offered_alpn(data) == (b"http/1.1",)
    assert offered_servername(data) == "Example.COM"
    reader = HelloReader()
    for i in range(len(data) - 1):  # a byte at a time: the same
        assert reader.feed(data[i:i + 1]) is None and reader.servername is False
    assert reader.feed(data[-1:]) == (b"http/1.1",) and reader.servername == "Example.COM"


@pytest.mark.parametrize("extensions, name", [
    ([ALPN], False),  # no server_name extension
    ([_sni((0, b"caf\xc3\xa9"))], "caf\xc3\xa9"),
    ([ALPN, _sni((0, b"after.alpn"))], "after.alpn"),  # found after the ALPN offer too
    ([_sni((0, b"first"), (0, b"second"))], False),  # several: OpenSSL refuses the hello
    ([_sni((1, b"other"), (0, b"second"))], False),  # not a host_name first: OpenSSL refuses it
    ([_sni()], False),  # an empty list
    ([_sni((0, b""))], False),  # an empty name
    ([_sni((0, b"lying"), list_size=200)], False),  # the list says more than the extension holds
    ([(0, b"\x00\x08\x00\x00\x50ab")], False),  # the entry says more than the list holds
    ([(0, b"\x00")], False),  # cut inside the list's size
    ([(0, b"\x00\x04\x00\x00")], False),  # cut inside the entry
    ([_sni((0, b"x" * 300))], "x" * 300),  # OpenSSL judges its length
], ids=["none", "utf-8", "after-alpn", "several", "other-type", "empty-list", "empty-name", "list-lies",
        "entry-lies", "cut-list", "cut-entry", "long"])
def test_hostile_server_name_extensions_never_break_the_reader(extensions, name):
    data = _hello(extensions)
    assert offered_servername(data) == name
    assert offered_alpn(data) == ((b"http/1.1",) if ALPN in extensions else ())


def test_an_extension_that_lies_about_its_size_hides_what_follows():
    data = bytearray(_hello([(0, b"\x00\x04\x00\x00\x01a"), ALPN]))
    at = data.index(b"\x00\x00\x00\x06\x00\x04")  # the server_name extension's size...
    data[at + 2:at + 4] = b"\xff\xf0"  # ...now past the hello's end
    assert offered_servername(bytes(data)) is False
    assert offered_alpn(bytes(data)) == ()


def test_cut_and_flipped_hellos_never_raise():
    """A real hello cut anywhere, or with any byte changed, reads as a name, no name or
    not a hello; the reader never raises."""
    rng = random.Random(1)
    data = _hello([_sni((0, b"caf\xc3\xa9.example")), ALPN])
    for cut in range(len(data)):
        assert offered_servername(data[:cut]) in (None, False)
    for _ in range(3000):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        name = offered_servername(bytes(mutated))
        assert name is None or name is False or isinstance(name, str)
