"""``async for chunk in stream`` raises, at a ``close`` or ``error`` before the end, an
error that reads as the one the stream emitted: its type, its ``args`` (its message),
its Node fields and its cause. The body cut short by its client is the common case:
``except ConnectionResetError as err`` sees ``str(err) == "aborted"``.

Real loopback sockets; the server's loop runs in a thread of this process.
"""

import asyncio
import socket

from prefork.http.errors import Aborted, HTTPError


def cut_body(serve, setup_error=None):
    """What a handler reading a request body with ``async for`` caught when its client
    went away mid-body (or destroyed the request with ``setup_error()``)."""
    def setup(server, st):
        async def on_request(req, res):
            st.record("started")
            if setup_error is not None:  # (once the loop below listens)
                asyncio.get_running_loop().call_soon(req.destroy, setup_error())
            try:
                async for _ in req:
                    pass
            except Exception as err:  # noqa: BLE001 (what the user's code would catch)
                st.record("caught", type(err), err.args, str(err), getattr(err, "code", None),
                          err.__cause__, vars(err).get("tag"))
            else:
                st.record("caught", None)
        server.on("request", on_request)
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello")
        if setup_error is None:
            st.wait_for(lambda event: event[0] == "started", timeout=10)
            sock.close()
        return st.wait_for(lambda event: event[0] == "caught", timeout=10)


def test_a_body_cut_by_its_client_raises_aborted_with_its_message(serve):
    _, kind, args, text, code, _, _ = cut_body(serve)
    assert kind is Aborted
    assert args == ("aborted",)
    assert text == "aborted"
    assert code == "ECONNRESET"


class Tagged(HTTPError):
    def __init__(self):
        super().__init__("E_TAGGED", "tagged failure")
        self.tag = "mine"


def make_caused():
    try:
        raise KeyError("root")
    except KeyError as root:
        err = Tagged()
        err.__cause__ = root
        return err


def test_a_destroy_error_is_raised_with_its_message_fields_and_cause(serve):
    _, kind, args, text, code, cause, tag = cut_body(serve, make_caused)
    assert kind is Tagged
    assert args == ("tagged failure",)
    assert text == "tagged failure"
    assert code == "E_TAGGED"
    assert tag == "mine"
    assert isinstance(cause, KeyError) and cause.args == ("root",)
