"""Over TLS too, a response's ``end()`` whose bytes the kernel refuses (the client reset
a connection the server was not reading) tells that failure after the call, as on a
plain connection and as Node's TLS socket tells it: the ``clientError`` never runs inside
the app's ``end()``."""

import socket
import ssl

from held_reset import answer_then_wait, reset_when_paused, serve_held
import test_hostile_net_tls

pki = test_hostile_net_tls.pki  # (a fixture: a CA and the server's certificate)
tls_listener = test_hostile_net_tls.tls_listener

HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"


def run(serve, pki, answer):
    st, held = serve_held(serve, lambda req, res, record: (req.on("close", lambda: record("req.close")),
                                                         req.on("error", lambda err: None)))
    port = tls_listener(st, pki)
    context = ssl.create_default_context(cafile=str(pki.ca))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    client = context.wrap_socket(raw, server_hostname="127.0.0.1")
    client.sendall(HEAD + b"a" * 300000)
    st.wait_for(lambda event: event == ("request",))
    req, res = held[0]
    reset_when_paused(st, req, client)
    answer_then_wait(st, lambda: answer(req, res))
    return [event[0] for event in st.events if event[0] != "req.close"]

def test_a_refused_tls_write_is_told_after_the_call(serve, pki):
    for name, answer in {"end": lambda req, res: res.end("x"),
                         "write, end": lambda req, res: (res.write("a"), res.end("b"))}.items():
        events = run(serve, pki, answer)
        assert events[:2] == ["request", "called"], (name, events)
