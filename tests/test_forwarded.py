"""X-Forwarded-For / X-Forwarded-Proto: the rules of http/forwarded.py as a table (no
sockets), and the daemon's trust in a peer (WSGI and ASGI) on real connections."""

import json
import os
import socket
import struct
import threading

import pytest

from daemon import wait_until
from prefork.http.forwarded import forwarded_client, forwarded_proto, hop_address

PROXIES = {"10.0.0.5", "10.0.0.6", "::1"}


@pytest.mark.parametrize("hop,address", [
    ("203.0.113.9", "203.0.113.9"), (" 203.0.113.9\t", "203.0.113.9"), ("10.0.0.5:1234", "10.0.0.5"),
    ("[2001:db8::1]:4711", "2001:db8::1"), ("[2001:db8::1]", "2001:db8::1"), ("2001:db8::1", "2001:db8::1"),
    ("2001:DB8:0::1", "2001:db8::1"), ("unknown", None), ("_hidden", None), ("<script>", None), ("", None),
    ("[2001:db8::1", None), ("203.0.113.9:80:80", None), ("999.1.1.1", None), ("203.0.113.9\r\n", None),
    # an IPv6 zone (RFC 4007) means nothing off its host: dropped; and Python's ipaddress takes
    # any text after the % as one: a zone not of RFC 6874's characters is no address
    ("2001:db8::1%eth0", "2001:db8::1"), ('2001:db8::1%" <script>', None), ("[fe80::1%25lo]:80", "fe80::1"),
    ("::1%x", "::1"), ("fe80::1%", None), ("10.0.0.1%eth0", None),
])
def test_a_hop_is_an_address_with_its_port_and_brackets_dropped(hop, address):
    assert hop_address(hop) == address


@pytest.mark.parametrize("value,client", [
    ("203.0.113.9", "203.0.113.9"),
    ("6.6.6.6, 203.0.113.9", "203.0.113.9"),            # the client wrote 6.6.6.6
    ("6.6.6.6, 203.0.113.9, 10.0.0.5", "203.0.113.9"),  # passed over: a trusted proxy
    ("10.0.0.6, 10.0.0.5", "10.0.0.6"),                 # every hop a proxy: the farthest
    ("6.6.6.6,203.0.113.9,10.0.0.5:8080", "203.0.113.9"),
    ("203.0.113.9, unknown", None),                     # the nearest untrusted hop is no address
    ("unknown, 10.0.0.5", None),
    ("garbage, 203.0.113.9", "203.0.113.9"),            # left of the client: never read
    ('::1%" evil', None),                               # a proxy's address with any text after it
    ("fe80::1%eth0, 10.0.0.5", "fe80::1"),              # a zoned client: its zone dropped
    ("2001:db8::7%x y, 10.0.0.5", None),
    ("", None), (",", None),
])
def test_the_client_is_the_nearest_hop_that_is_not_a_trusted_proxy(value, client):
    assert forwarded_client(value, PROXIES.__contains__) == client


@pytest.mark.parametrize("value,proto", [
    ("https", "https"), ("HTTPS", "https"), (" http ", "http"), ("wss", "wss"), ("https, http", "http"),
    ("http,https", "https"), ("ftp", None), ("", None), ("https;x", None),
])
def test_the_scheme_is_the_nearest_forwarded_proto(value, proto):
    assert forwarded_proto(value) == proto


def _lines(path):
    try:
        with open(path) as fh:
            return [json.loads(line) for line in fh]
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("interface,app", [("wsgi", "apps.peer_record:wsgi"), ("asgi", "apps.peer_record:asgi")])
def test_a_peer_reset_before_its_address_is_read_is_not_a_trusted_unix_peer(daemons, tmp_path, interface, app):
    """A TCP client that resets its connection while the worker is busy is accepted with
    no peer address (getpeername fails); its request is still read. It must not count as
    a UNIX-socket peer (trusted by default), or its own X-Forwarded-For would be believed."""
    record = str(tmp_path / "record")
    d = daemons("--interface", interface, app=app, workers=1, env={"PEER_RECORD": record})
    d.wait_ready()
    blocker = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    kept = socket.socket()
    try:
        blocker.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: ["block"] in _lines(record), 20, what="the worker busy")
        for path, reset in (("/reset", True), ("/kept", False)):
            client = kept if not reset else socket.socket()
            client.bind(("127.0.0.5", 0))  # not in forwarded_allow_ips
            client.connect(("127.0.0.1", d.port))
            client.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n"
                           b"X-Forwarded-Proto: https\r\n\r\n" % path.encode())
            if reset:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
        seen = wait_until(lambda: (lambda r: r if {"/reset", "/kept"} <= {x[0] for x in r} else None)(
            _lines(record)), 20, what="both requests served")
    finally:
        blocker.close()
        kept.close()
    served = {entry[0]: entry[1:] for entry in seen if entry[0] != "block"}
    assert served["/kept"] == ["127.0.0.5", "http"]
    assert served["/reset"][0] != "6.6.6.6" and served["/reset"][1] == "http", served
    assert len(d.serving_workers()) == 1


@pytest.mark.parametrize("interface,app", [("wsgi", "apps.peer_record:wsgi"), ("asgi", "apps.peer_record:asgi")])
def test_a_forwarded_address_with_text_after_a_percent_is_no_address(daemons, tmp_path, interface, app):
    """From a trusted peer (127.0.0.1 by default), an X-Forwarded-For hop that is an IPv6
    address with a zone of any text is garbage, not the client: the peer's own address
    stays, so no quote, space or markup reaches the app as its REMOTE_ADDR / client (a
    zone that is an interface's name is dropped: the address is the client)."""
    record = str(tmp_path / "record")
    d = daemons("--interface", interface, app=app, workers=1, env={"PEER_RECORD": record})
    d.wait_ready()
    hops = ['::1%" onmouseover="x', "2001:db8::5%eth0", "2001:db8::5"]
    for i, hop in enumerate(hops):
        with socket.create_connection(("127.0.0.1", d.port), timeout=20) as client:
            client.sendall(b"GET /%d HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: %s\r\nConnection: close\r\n\r\n"
                           % (i, hop.encode()))
            while client.recv(65536):
                pass
    seen = wait_until(lambda: (lambda r: r if len(r) == len(hops) else None)(_lines(record)), 20,
                      what="every request served")
    assert {entry[0]: entry[1] for entry in seen} == {"/0": "127.0.0.1", "/1": "2001:db8::5", "/2": "2001:db8::5"}


@pytest.mark.parametrize("interface,app", [("wsgi", "apps.peer_record:wsgi"), ("asgi", "apps.peer_record:asgi")])
@pytest.mark.parametrize("cap", [None, 100])
def test_a_forwarded_for_left_out_by_the_header_count_cap_is_no_licence_for_the_clients(
        daemons, tmp_path, interface, app, cap):
    """A proxy that keeps the client's X-Forwarded-For line and appends its own last
    (HAProxy's ``option forwardedfor``): past ``max_headers_count`` fields (Node's 1000,
    or a gunicorn user's ``limit_request_fields``) the proxy's line is left out of the
    WSGI environ, and the client's, kept, must not be taken for the client's address.
    ASGI's scope holds every line, and every line is read, as uvicorn's proxy headers
    read them: the proxy's line names the client there too."""
    record = str(tmp_path / "record")
    args = ("--interface", interface) + (("--max-headers-count", str(cap)) if cap else ())
    d = daemons(*args, app=app, workers=1, env={"PEER_RECORD": record})
    d.wait_ready()
    fields = 1000 if cap is None else cap
    for path, padding in (("/few", b""), ("/many", b"".join(b"X-Pad-%d: p\r\n" % i for i in range(fields)))):
        with socket.create_connection(("127.0.0.1", d.port), timeout=20) as client:
            client.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n" + padding
                           + b"X-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n")
            while client.recv(65536):
                pass
    seen = wait_until(lambda: (lambda r: r if len(r) == 2 else None)(_lines(record)), 20, what="both served")
    many = "127.0.0.1" if interface == "wsgi" else "203.0.113.7"
    assert {entry[0]: entry[1] for entry in seen} == {"/few": "203.0.113.7", "/many": many}


@pytest.mark.parametrize("interface,app,zero", [("wsgi", "apps.peer_record:wsgi_port", "0"),
                                                ("asgi", "apps.peer_record:asgi_port", 0)])
def test_a_forwarded_client_gets_no_port_of_the_proxys_connection(daemons, tmp_path, interface, app, zero):
    """A client address taken from a trusted X-Forwarded-For comes without the proxy
    connection's port: REMOTE_PORT is "0" (the client's own port is not known), as the ASGI
    scope's client is (address, 0) and uvicorn's proxy headers give; a request on the same
    keep-alive connection without the header gets the peer's address and port back (a
    forwarded address that is the peer's own keeps its port under WSGI, as a PROXY header's
    source named again by the balancer's X-Forwarded-For does; ASGI gives 0 as uvicorn)."""
    record = str(tmp_path / "record")
    d = daemons("--interface", interface, app=app, workers=1, env={"PEER_RECORD": record})
    d.wait_ready()
    with socket.create_connection(("127.0.0.1", d.port), timeout=20) as client:
        port = client.getsockname()[1]
        client.sendall(b"GET /forwarded HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
                       b"GET /self HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n"
                       b"GET /direct HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while client.recv(65536):
            pass
    seen = wait_until(lambda: (lambda r: r if len(r) == 3 else None)(_lines(record)), 20, what="all three served")
    direct = str(port) if interface == "wsgi" else port
    assert seen == [["/forwarded", "203.0.113.7", zero], ["/self", "127.0.0.1", direct if interface == "wsgi" else 0],
                    ["/direct", "127.0.0.1", direct]], seen
