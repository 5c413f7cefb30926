"""The rule for frames sent after the WebSocket handshake that reached a loaded prefork
before its 101 (tests/fuzz_asgi_uvicorn_known_ws.py's ``ws_frames_before_late_101``): the
fuzz driver sends its next step after a pause, not after the answer. The shape the fuzz
showed (input 1796656775-265 under parallel load): a close frame and a half-close after
the handshake; prefork read the close at the accept, echoed it, and the app's first send
(the scope's dump) raised ClientDisconnected; uvicorn sent the dump, then gave 1005."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_asgi_uvicorn_known_ws import ws_frames_before_late_101  # noqa: E402
from test_fuzz_asgi_known_websockets_rules import CONNECT, H101, item, masked, side  # noqa: E402

DUMP = [1, True, {"type": "websocket", "path": "/ws/close-after"}]
RAISED = [["raised", "ClientDisconnected"]]
CLOSE = masked(8, b"")
JUNK = b"\x01\x820X\xf6\xa2\xd2\xda\x80\x81AJq{\xed"  # what followed the close frame in the fuzz's input


def late(ours, seen, log, frames=CLOSE + JUNK, mode="close-after", ws="wsproto", early=b""):
    """The client's ``frames`` sent as a step after the handshake (and ``early`` with it),
    then a half-close; prefork wrote ``ours`` after its 101, its app saw ``seen`` after
    the connect and ended with ``log``; uvicorn sent the dump and its app got the
    disconnect of a lost connection. The rule's verdict and whether the outcomes are then equal."""
    stream = item(mode, frames=frames, half_close=True, ws=ws)
    stream["steps"][0] += early
    pre = side([H101, {"frames": ours, "rest": ""}], [CONNECT] + seen, log)
    uvi = side([H101, {"frames": [DUMP], "rest": ""}], [CONNECT, ["websocket.disconnect", 1005 if ws == "wsproto" else 1006]],
               ["returned"])
    return ws_frames_before_late_101(stream, pre, uvi), pre == uvi


def test_a_close_frame_read_at_a_late_accept_that_fails_the_first_send_is_known_on_both_implementations():
    for ws in ("wsproto", "websockets"):
        assert late([["close", None, ""]], [], RAISED, ws=ws) == (True, True)
        assert late([["close", 1000, "why"]], [], RAISED, frames=masked(8, b"\x03\xe8why"), mode="accept", ws=ws) == (True, True)
    ping = masked(9, b"ping")
    assert late([[10, True, "ping"], ["close", None, ""]], [], RAISED, frames=ping + CLOSE) == (True, True)


def test_a_late_accept_does_not_hide_what_the_fuzz_app_does_not_explain():
    for ours, seen, log in (
            ([["close", None, ""]], [], ["returned"]),  # the first send did not raise
            ([DUMP, ["close", None, ""]], [], RAISED),  # the dump went out: a later send raised
            ([["close", 1000, ""]], [], RAISED),  # a close frame that is not the echo of the client's
            ([], [], RAISED),  # no echo at all
            ([["close", None, ""]], [["websocket.disconnect", 1005]], RAISED),  # the app took a message first
            ([[1, True, "stray"], ["close", None, ""]], [], RAISED)):  # a frame the app never sent
        assert late(ours, seen, log)[0] is False, (ours, seen, log)
    # frames sent with the handshake are ws_frames_before_101's, not this rule's
    assert late([["close", None, ""]], [], RAISED, early=CLOSE, frames=JUNK)[0] is False
