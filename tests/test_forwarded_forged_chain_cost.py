"""A client behind a trusted proxy writes the left part of ``X-Forwarded-For`` as it
likes: a chain of forged hops that are all trusted proxies (``10.x.y.z`` when
``10.0.0.0/8`` is trusted, ``127.0.0.1:N`` with the default loopback) is walked to its
end, one hop at a time. Each hop was read by Python's ``ipaddress`` twice (as a hop, then
as a trusted proxy or not), some seventy Python calls a hop: a 12 KiB forged field cost
the worker 70,000 calls (about 20 ms, twice uvicorn's cost for the same walk). The hops
are now read with ``inet_pton``: a few calls a hop. The client found is the same. Real
loopback sockets; the calls made on the server's loop thread are counted."""

import collections
import socket
import sys

import pytest

from conftest import ServerThread
from prefork.asgi import ASGIAdapter
from prefork.http.forwarded import forwarded_client
from prefork.net.proxy import TrustedSources
from prefork.wsgi import WSGIAdapter

HOPS = 1000


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["REMOTE_ADDR"].encode()]


async def asgi_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["client"][0].encode()})


def forged(style):
    if style == "network":
        return ", ".join(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(HOPS))
    return ", ".join(f"127.0.0.1:{i + 1}" for i in range(HOPS))


def ask_counting(kind, allow, value):
    adapter = (WSGIAdapter(wsgi_app, forwarded_allow_ips=allow) if kind == "wsgi"
               else ASGIAdapter(asgi_app, lifespan="off", forwarded_allow_ips=allow))
    calls = collections.Counter()

    def profile(frame, event, arg):
        if event == "call":
            calls[frame.f_code.co_name] += 1

    st = ServerThread(lambda server, _st: adapter.setup(server))
    try:
        request = (f"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7, {value}\r\n"
                   "Connection: close\r\n\r\n").encode()
        assert len(request) < 16384
        st.call(sys.setprofile, profile)
        try:
            with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
                sock.sendall(request)
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
        finally:
            st.call(sys.setprofile, None)
    finally:
        st.stop()
        if kind == "wsgi":
            adapter.close()
    assert reply.startswith(b"HTTP/1.1 200 OK"), reply[:200]
    return reply.partition(b"\r\n\r\n")[2], calls


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize("style, allow", [("network", ("127.0.0.1", "10.0.0.0/8")),
                                          ("ports", ("127.0.0.1", "::1", "unix"))])
def test_a_forged_chain_of_trusted_hops_costs_a_few_calls_a_hop(kind, style, allow):
    client, calls = ask_counting(kind, allow, forged(style))
    assert client == b"203.0.113.7"
    assert sum(calls.values()) < 10 * HOPS, calls.most_common(6)


@pytest.mark.parametrize("hop", ["10.1.2.3", "::ffff:10.1.2.3", "[::ffff:10.1.2.3]:80", "2001:db8::9",
                                 "[2001:DB8::9]:443", "fe80::1%eth0", "0:0:0:0:0:ffff:a01:203"])
def test_trusted_networks_match_each_spelling_of_a_hop(hop):
    trusted = TrustedSources(["10.0.0.0/8", "::ffff:10.0.0.0/104", "2001:db8::/32", "fe80::/10"])
    assert forwarded_client(f"203.0.113.7, {hop}", lambda a: trusted.allows((a, 0))) == "203.0.113.7"
    untrusted = TrustedSources(["11.0.0.0/8", "2001:db9::/32", "fe81::/16"])
    assert forwarded_client(f"203.0.113.7, {hop}", lambda a: untrusted.allows((a, 0))) != "203.0.113.7"
