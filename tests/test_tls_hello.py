"""The ClientHello reader behind the ALPN refusal (net/hello.py ``offered_alpn``,
``HelloReader``) under hostile bytes: real ClientHellos (Python's ssl, openssl s_client)
cut into records and reads every way, mutated, truncated, with lying lengths; it never
raises, never refuses an offer with http/1.1, and a hello trickled in tiny records costs
the loop each byte once (it was read whole again at every read)."""

import socket
import ssl
import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from debian import ensure
from prefork.net.hello import HelloReader, offered_alpn
from test_hostile_net_tls import pki, tls_listener  # noqa: F401
from test_tls_alpn import client_hello, hello_server

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def s_client_hello(alpn):
    """The first flight of ``openssl s_client -alpn alpn``, caught on a listener that
    answers nothing."""
    path, why = ensure("openssl", "openssl")
    if path is None:
        pytest.skip(why)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        client = subprocess.Popen([path, "s_client", "-connect", f"127.0.0.1:{port}", "-alpn", alpn, "-msg"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                data = b""
                while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
                    chunk = conn.recv(65536)
                    assert chunk, data
                    data += chunk
        finally:
            client.kill()
            client.wait()
    return data


@pytest.fixture(scope="module")
def hellos():
    made = []
    for alpn in (None, ["h2"], ["h2", "http/1.1"], ["http/1.1"], ["x" * 200, "spdy/3", "http/1.1"]):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            made.append((_hello(alpn, version),
                         tuple(name.encode() for name in alpn or ())))
    for alpn in ("h2", "h2,http/1.1"):
        made.append((s_client_hello(alpn), tuple(name.encode() for name in alpn.split(","))))
    return made


def _hello(alpn, version):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.maximum_version = version
    if alpn:
        context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        context.wrap_bio(incoming, outgoing, server_hostname="localhost").do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def records(hello, cuts):
    """``hello``'s handshake message cut into records at ``cuts``."""
    body, out, at = hello[5:], [], 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(hello) - 5)) + [len(body)]:
        out.append(hello[:3] + (cut - at).to_bytes(2, "big") + body[at:cut])
        at = cut
    return b"".join(out)


def fed(data, reads):
    """What a HelloReader says after ``data`` came in pieces cut at ``reads``; None for
    every read before the last means it waited for the rest."""
    reader, at, said = HelloReader(), 0, None
    for cut in sorted(set(c for c in reads if 0 < c < len(data))) + [len(data)]:
        said = reader.feed(data[at:cut])
        at = cut
        if said is not None:
            return said, at
    return said, at


@FUZZ
@given(index=st.integers(0, 99), cuts=st.lists(st.integers(0, 2000), max_size=30),
       reads=st.lists(st.integers(0, 3000), max_size=30))
def test_a_real_hello_however_cut_gives_its_offer(hellos, index, cuts, reads):
    hello, offer = hellos[index % len(hellos)]
    data = records(hello, cuts)
    assert offered_alpn(data) == offer
    assert fed(data, reads) == (offer, len(data))  # read once whole, and not before
    if b"http/1.1" in offer:
        assert offered_alpn(data) is not False


@FUZZ
@given(index=st.integers(0, 99), changes=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=8),
       cut=st.integers(0, 2000), reads=st.lists(st.integers(0, 2000), max_size=10))
def test_a_mutated_or_truncated_hello_never_raises(hellos, index, changes, cut, reads):
    data = bytearray(hellos[index % len(hellos)][0])
    for at, value in changes:
        data[at % len(data)] = value
    data = bytes(data[:cut])
    said = offered_alpn(data)
    assert said is None or said is False or (isinstance(said, tuple) and all(type(n) is bytes for n in said))
    assert fed(data, reads)[0] == said


@FUZZ
@given(body=st.binary(max_size=400), declared=st.integers(0, 0xFFFFFF))
def test_lying_lengths_and_garbage_never_raise(body, declared):
    for data in (body, b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body,
                 b"\x16\x03\x01" + (len(body) + 4).to_bytes(2, "big") + b"\x01" + declared.to_bytes(3, "big") + body):
        said = offered_alpn(data)
        assert said is None or said is False or isinstance(said, tuple)


def _with_alpn(hello, extension_data):
    """``hello`` (one record, TLS 1.3 from Python's ssl) with its ALPN extension's data
    replaced by ``extension_data``, every length around it set to match."""
    message = bytearray(hello[5:])
    at = 39 + message[38]
    at += 2 + int.from_bytes(message[at:at + 2], "big")
    at += 1 + message[at]
    extensions_at, end = at, at + 2 + int.from_bytes(message[at:at + 2], "big")
    at += 2
    while message[at:at + 2] != b"\x00\x10":
        at += 4 + int.from_bytes(message[at + 2:at + 4], "big")
    size = int.from_bytes(message[at + 2:at + 4], "big")
    message[at + 4:at + 4 + size] = extension_data
    message[at + 2:at + 4] = len(extension_data).to_bytes(2, "big")
    end += len(extension_data) - size
    message[extensions_at:extensions_at + 2] = (end - extensions_at - 2).to_bytes(2, "big")
    message[1:4] = (len(message) - 4).to_bytes(3, "big")
    return hello[:3] + len(message).to_bytes(2, "big") + bytes(message)


@pytest.mark.parametrize("extension, said", [
    (b"", ()), (b"\x00\x00", ()), (b"\x00\x09\x08http/1.1", (b"http/1.1",)),
    (b"\x00\x01\x00", (b"",)), (b"\x00\x0b\x00\x08http/1.1\x00", (b"", b"http/1.1", b"")),
], ids=["empty", "empty-list", "http1.1", "empty-name", "empty-names-around"])
def test_odd_alpn_extensions_read_as_they_say(extension, said):
    hello = _hello(["h2"], ssl.TLSVersion.TLSv1_3)
    assert offered_alpn(_with_alpn(hello, extension)) == said


def test_a_hello_trickled_in_one_byte_records_costs_the_loop_each_byte_once(serve, pki):  # noqa: F811
    """A handshake message that says 15000 bytes, sent as 1-byte records (90 KB): most at
    once, the last 300 one by one. Read whole again at every read, the server's loop spent
    about 3 s of CPU on it (one client could hold a worker for its handshake timeout)."""
    st_ = serve(hello_server)
    port = tls_listener(st_, pki)
    message = b"\x01" + (15000).to_bytes(3, "big") + b"\x03\x03" + bytes(14998)
    pieces = [b"\x16\x03\x01\x00\x01" + message[i:i + 1] for i in range(len(message))]
    clock = time.pthread_getcpuclockid(st_.thread.ident)
    before = time.clock_gettime(clock)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"".join(pieces[:-300]))
        for piece in pieces[-300:]:
            sock.sendall(piece)
            time.sleep(0.0005)
        answer = sock.recv(64)  # OpenSSL's alert for the hello's bad contents, and the close
    used = time.clock_gettime(clock) - before
    assert answer[:1] == b"\x15", answer
    st_.wait_for(lambda e: e[0] == "tlsClientError")
    assert used < 0.5, f"the loop spent {used:.2f} s of CPU on one client's hello"


def test_a_real_hello_in_one_byte_records_and_reads_is_served(serve, pki):  # noqa: F811
    """A real ClientHello offering h2 and http/1.1, each byte its own record and its own
    segment, goes on to a ServerHello (not refused, nothing raised on the loop)."""
    st_ = serve(hello_server)
    port = tls_listener(st_, pki)
    failures = []
    st_.call(lambda: st_.loop.set_exception_handler(lambda loop, context: failures.append(context)))
    hello = client_hello(["h2", "http/1.1"])
    data = records(hello, range(1, len(hello) - 5))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), 6):
            sock.sendall(data[i:i + 6])
        answer = sock.recv(6)
        assert answer[:1] == b"\x16" and answer[5:6] == b"\x02", answer
        assert not [e for e in st_.events if e[0] == "tlsClientError"], st_.events  # (before this client leaves)
    assert not failures, failures


@settings(FUZZ, max_examples=40)
@given(changes=st.lists(st.tuples(st.integers(0, 600), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.integers(5, 600), step=st.sampled_from([1, 7, 100, 5000]))
def test_mutated_hellos_on_a_real_socket_end_in_an_answer_never_a_loop_error(hello_port, changes, cut, step):
    st_, port, failures, data = hello_port
    data = bytearray(data)
    for at, value in changes:
        data[at % len(data)] = value
    data = bytes(data[:cut])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:  # (the server may have refused and closed before the last byte)
            for i in range(0, len(data), step):
                sock.sendall(data[i:i + step])
            sock.shutdown(socket.SHUT_WR)  # a hello cut short then ends with the client's FIN
            while sock.recv(65536):
                pass
        except OSError:  # a reset, a pipe broken, not connected any more
            pass
    assert not failures, failures


@pytest.fixture(scope="module")
def hello_port(pki):  # noqa: F811
    from conftest import ServerThread
    st_ = ServerThread(hello_server)
    try:
        port = tls_listener(st_, pki, handshake_timeout=5)
        failures = []
        st_.call(lambda: st_.loop.set_exception_handler(lambda loop, context: failures.append(context)))
        yield st_, port, failures, client_hello(["h2", "http/1.1"])
    finally:
        st_.stop()


SSLV2_HELLO = (b"\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10" + b"\x00\x00\x2f\x00\x00\x35\x00\x00\x0a\x07\x00\xc0"
               b"\x00\x00\x33\x00\x00\x39\x00\x00\xff" + bytes(range(16)))


@pytest.mark.parametrize("first", [
    SSLV2_HELLO,
    b"\x15\x03\x03\x00\x02\x01\x00",  # an alert before any hello
    b"\x14\x03\x03\x00\x01\x01",  # a change_cipher_spec before any hello
    b"\x17\x03\x03\x00\x05hello",  # application data before any hello
    b"\x16\x03\x01\x40\x01" + bytes(0x4001),  # a record over 16 KiB
    b"\x16\x03\x01\x00\x04\x01\xff\xff\xff" + b"\x16\x03\x01\x3f\xff" + bytes(0x3fff),  # a hello that says 16 MiB
    b"\x16\x03\x01\x00\x00",  # an empty record
], ids=["sslv2", "alert-first", "ccs-first", "data-first", "record-over-16k", "hello-of-16mib", "empty-record"])
def test_what_is_no_tls_hello_is_a_client_error_never_a_loop_error(serve, pki, first):  # noqa: F811
    """(OpenSSL skips an empty record and answers the hello after it: this client then
    stalls, and the handshake timeout ends it.)"""
    st_ = serve(hello_server)
    port = tls_listener(st_, pki, handshake_timeout=0.5)
    failures = []
    st_.call(lambda: st_.loop.set_exception_handler(lambda loop, context: failures.append(context)))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(first + client_hello(["http/1.1"]))
            while sock.recv(65536):
                pass
        except OSError:  # a reset
            pass
    st_.wait_for(lambda e: e[0] == "tlsClientError")
    assert not failures, failures


def _with_extensions(hello, count):
    """``hello`` (one record) with ``count`` empty extensions of unassigned types put
    before its own, every length set to match."""
    message = bytearray(hello[5:])
    at = 39 + message[38]
    at += 2 + int.from_bytes(message[at:at + 2], "big")
    at += 1 + message[at]
    extra = b"".join((0xFA00 + n % 256).to_bytes(2, "big") + b"\x00\x00" for n in range(count))
    size = int.from_bytes(message[at:at + 2], "big") + len(extra)
    message[at:at + 2] = size.to_bytes(2, "big")
    message[at + 2:at + 2] = extra
    message[1:4] = (len(message) - 4).to_bytes(3, "big")
    return hello[:3] + len(message).to_bytes(2, "big") + bytes(message)


@pytest.mark.parametrize("alpn, refused", [(["h2"], True), (["h2", "http/1.1"], False)])
def test_an_offer_behind_three_thousand_extensions_is_read(serve, pki, alpn, refused):  # noqa: F811
    """3000 extensions before ALPN (a 12 KB hello): the offer is found, refused or served."""
    st_ = serve(hello_server)
    port = tls_listener(st_, pki)
    hello = _with_extensions(_hello(alpn, ssl.TLSVersion.TLSv1_3), 3000)
    assert offered_alpn(hello) == tuple(name.encode() for name in alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(hello)
        answer = sock.recv(7)
    if refused:
        assert answer == b"\x15\x03\x03\x00\x02\x02\x78", answer
    else:
        assert answer[:1] == b"\x16" and answer[5:6] == b"\x02", answer
