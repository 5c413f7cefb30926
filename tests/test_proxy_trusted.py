"""Which balancers may send a PROXY header, on real loopback sockets: an IPv4 balancer
is the same peer whether its address is written ``127.0.0.1`` or ``::ffff:127.0.0.1``
(the spelling a dual-stack ``[::]`` listener, ``remote_address`` and the access log give
it), on an IPv4 listener and on a dual-stack one."""

import socket

import pytest

from conftest import ServerThread
from test_proxy_protocol import CLOSE, ask


def dual_stack_listener():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", 0))
    sock.listen(16)
    return sock


def on_request(server, st):
    server.on("request", lambda req, res: res.end(f"{req.socket.remote_address}".encode()))


@pytest.mark.parametrize("allowed", ["::ffff:127.0.0.1", "::ffff:127.0.0.0/104", "127.0.0.1"])
@pytest.mark.parametrize("listener", ["dual-stack", "ipv4"])
def test_an_ipv4_balancer_is_trusted_however_its_address_is_written(allowed, listener):
    st = ServerThread(on_request, proxy_allow_ips=(allowed,))
    try:
        if listener == "dual-stack":
            sock = dual_stack_listener()
        else:
            sock = socket.create_server(("127.0.0.1", 0))
        st.call(lambda: st.server.listen(sock=sock, proxy_protocol=True))
        response = ask(sock.getsockname()[1], b"PROXY TCP4 192.0.2.8 192.0.2.9 5000 80\r\n" + CLOSE)
        assert response.startswith(b"HTTP/1.1 200 OK") and response.endswith(b"192.0.2.8"), response
        assert st.call(lambda: dict(st.server.stats.proxy_errors)) == {}
    finally:
        st.stop()


def test_a_mapped_entry_does_not_trust_other_ipv4_peers():
    st = ServerThread(on_request, proxy_allow_ips=("::ffff:127.0.0.2",))
    try:
        sock = dual_stack_listener()
        st.call(lambda: st.server.listen(sock=sock, proxy_protocol=True))
        response = ask(sock.getsockname()[1], b"PROXY TCP4 192.0.2.8 192.0.2.9 5000 80\r\n" + CLOSE)
        assert response == b"", response
        assert st.call(lambda: dict(st.server.stats.proxy_errors)) == {"untrusted": 1}
    finally:
        st.stop()
