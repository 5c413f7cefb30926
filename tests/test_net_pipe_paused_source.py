"""``socket.pipe()`` resumes a source that was paused before it, as Node's ``pipe()``
does: the usual CONNECT proxy pauses the client's socket while it connects upstream,
then pipes both ways. The client's bytes stayed unread for ever (the tunnel hung)."""

import socket
import threading

from prefork.net import Socket


def echo_upstream():
    """An upstream that echoes what it reads and says UPBYE at the FIN."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run():
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            while True:
                data = conn.recv(65536)
                if not data:
                    conn.sendall(b"UPBYE")
                    return
                conn.sendall(data)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener, thread


def read_until_close(sock):
    data = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk


def test_a_tunnel_whose_client_socket_was_paused_while_connecting_flows(serve):
    listener, thread = echo_upstream()
    port = listener.getsockname()[1]

    def setup(server, st):
        def on_connect(req, sock, head):
            sock.pause()  # nothing is read until the upstream is there
            host, up_port = req.url.split(":")
            up = Socket.connect(server.loop, host, int(up_port))

            def connected():
                sock.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                up.write(head)
                sock.pipe(up)
                up.pipe(sock)
            up.on("connect", connected)
            sock.on("close", lambda had_error=False: st.record("closed", had_error))
        server.on("connect", on_connect)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as client:
        client.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\nHEAD" % port)
        answer = b"HTTP/1.1 200 Connection Established\r\n\r\nHEAD"
        data = bytearray()
        while len(data) < len(answer):
            data += client.recv(65536)
        assert bytes(data) == answer
        client.sendall(b"after")
        while len(data) < len(answer) + 5:
            data += client.recv(65536)
        client.shutdown(socket.SHUT_WR)
        data += read_until_close(client)
    assert bytes(data) == answer + b"afterUPBYE"
    st.wait_for(lambda e: e[0] == "closed")
    thread.join(5)
    listener.close()


def test_pipe_into_a_destination_waiting_for_drain_pauses(serve):
    """Node's pipe() pauses the source when the destination already waits for a drain;
    the drain resumes it."""
    st = serve()
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    a.setblocking(False)
    c.setblocking(False)

    def start():
        src = Socket(st.loop, a)
        dst = Socket(st.loop, c)
        src.resume()
        dst.want_drain()  # (as after a write() that returned False)
        src.pipe(dst)
        paused = src.is_paused()
        src.destroy()
        dst.destroy()
        return paused
    assert st.call(start) is True
    for s in (b, d):
        s.close()
