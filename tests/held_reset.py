"""A server that holds each request paused, and a client that resets the connection once
the server has stopped reading it: the setting of the refused-write tests (an upload
nobody reads fills the buffers, so the reset waits for the server's next write)."""

import socket
import struct
import time


def serve_held(serve, listen=None):
    """``serve(setup)`` with a server whose requests are paused and kept in ``held`` (each
    noted "request" after ``listen(req, res, record)`` added its listeners), and whose
    ``clientError`` is noted ("clientError CODE") and destroys the socket. (st, held)."""
    held = []

    def on_request(req, res):
        if listen is not None:
            listen(req, res, st.record)
        req.pause()
        held.append((req, res))
        st.record("request")

    def on_client_error(err, sock):
        st.record("clientError " + str(getattr(err, "code", err)))
        sock.destroy()

    def setup(server, _):
        server.on("request", on_request)
        server.on("clientError", on_client_error)
    st = serve(setup)
    return st, held


def reset_when_paused(st, req, client):
    """Reset ``client`` once the server stopped reading ``req``'s socket."""
    deadline = time.monotonic() + 5
    while not st.call(req.socket.is_paused) and time.monotonic() < deadline:
        time.sleep(0.005)  # (until the server stops reading: the reset then waits for a write)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def answer_then_wait(st, answer):
    """Run ``answer()`` on the server's loop, note "called" right after it, and wait for
    the request's close ("req.close", which a ``listen`` must note)."""
    def call():
        answer()
        st.record("called")
    st.call(call)
    st.wait_for(lambda event: event == ("req.close",))
