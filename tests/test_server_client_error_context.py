"""A ``clientError`` listener runs in a context of its own, as request listeners do: a
context variable it sets (a request id, a log field) reaches no other connection. The
request timeouts come from the server's sweep, whose timer handle keeps its context from
one sweep to the next: a listener running in it would hand its variables to the next
connection's listener."""

import contextvars
import socket

VAR = contextvars.ContextVar("client_error_var")


def test_a_client_error_listener_variable_stays_with_its_connection(serve):
    def on_client_error(err, sock):
        st.record(err.code, VAR.get(None))
        VAR.set("set by an earlier listener")
        sock.destroy()

    def on_request(req, res):
        st.record("request", VAR.get(None))
        res.end("x")

    def setup(server, _):
        server.on("clientError", on_client_error)
        server.on("request", on_request)
    st = serve(setup, headers_timeout=0.2, request_timeout=0.3, connections_checking_interval=0.05)
    sends = [b"GET / HTTP/1.1\r\n", b"GET / HTTP/1.1\r\n", b"BAD\r\n\r\n", b"BAD\r\n\r\n",
             b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
    for text in sends:
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(text)
            while sock.recv(65536):
                pass
    st.wait_for(lambda event: event[0] == "request")
    assert st.events == [("ERR_HTTP_REQUEST_TIMEOUT", None), ("ERR_HTTP_REQUEST_TIMEOUT", None),
                         ("HPE_INVALID_METHOD", None), ("HPE_INVALID_METHOD", None), ("request", None)], st.events
