"""``Socket.connect`` given no host (``""`` or None) connects to ``localhost``, as
Node's ``net.connect`` takes ``options.host || 'localhost'``: ``""`` was ENOTFOUND
(``getaddrinfo ENOTFOUND ``), and None was resolved, and told, as no name."""

import socket

import pytest

from prefork.net import Socket


@pytest.mark.parametrize("host", ["", None])
def test_a_connect_without_a_host_reaches_localhost(serve, host):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    st = serve()
    seen = []

    def start():
        sock = Socket.connect(st.loop, host, listener.getsockname()[1], family=4)
        sock.on("lookup", lambda err, address, family, name: seen.append(("lookup", err, address, name)))
        sock.on("connect", lambda: (seen.append(("connect", sock.remote_address)), sock.destroy()))
        sock.on("error", lambda err: seen.append(("error", err.code, str(err))))
        sock.on("close", lambda had_error=False: st.record("closed"))
    try:
        st.call(start)
        st.wait_for(lambda e: e == ("closed",))
    finally:
        listener.close()
    assert seen == [("lookup", None, "127.0.0.1", "localhost"), ("connect", "127.0.0.1")]
