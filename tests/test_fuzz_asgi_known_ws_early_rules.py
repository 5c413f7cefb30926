"""The rule for frames sent with the WebSocket handshake in the ASGI fuzz
(tests/fuzz_asgi_uvicorn_known_ws.py's ``ws_frames_before_101``), on outcomes of the
shapes the fuzz showed: uvicorn drops those frames, prefork reads them once the app
accepts; the rule leaves out what follows the 101 only where what prefork wrote and its
app did is what the fuzz app does for the client's frames."""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_asgi_uvicorn_known_ws import ws_frames_before_101  # noqa: E402
from test_fuzz_asgi_known_websockets_rules import CONNECT, H101, item, masked, side  # noqa: E402

DUMP = [1, True, {"type": "websocket", "path": "/ws/accept"}]
GONE = ["websocket.disconnect", 1006]


def early(mode, frames, ours, seen, log, ws="wsproto", rest="", later=b"", theirs_dump=DUMP, closed=True):
    """Frames ``frames`` sent with the handshake (and ``later`` after it) to which prefork
    wrote ``ours`` after its 101, its app seeing ``seen`` after the connect and ending
    with ``log``, and uvicorn (which drops them) the dump: the rule's verdict and whether
    the outcomes are then equal."""
    handshake = item(mode, ws=ws, frames=later)
    handshake["steps"][0] += frames
    pre = side([H101, {"frames": ours, "rest": rest}], [CONNECT] + seen, log, closed)
    uvi = side([H101, {"frames": [theirs_dump], "rest": ""}], [CONNECT, ["websocket.disconnect", 1005 if ws == "wsproto" else 1006]], ["returned"])
    return ws_frames_before_101(handshake, pre, uvi), pre == uvi


def test_early_frames_prefork_reads_as_the_app_does_for_them_are_known_on_both_implementations():
    hello, ping, got = masked(1, b"hello"), masked(9, b"ping"), ["websocket.receive", "hello", None]
    for ws in ("wsproto", "websockets"):
        assert early("accept", hello, [DUMP, [1, True, "hello"]], [got, GONE], ["returned"], ws) == (True, True)
        assert early("accept", ping + hello, [[10, True, "ping"], DUMP, [1, True, "hello"]], [got, GONE], ["returned"], ws) == (True, True)
        assert early("close-after", hello, [DUMP, ["close", 4001, "bye"]], [got], ["returned"], ws) == (True, True)
        assert early("raise-after", hello, [DUMP, ["close", 1011, ""]], [got], [["raised", "ValueError"]], ws) == (True, True)
    fragments = bytes([0x01, 0x82]) + b"\0\0\0\0" + b"\xe2\x82" + masked(0, b"\xac") + masked(2, b"\x00\x01bin")
    both = [["websocket.receive", "\u20ac", None], ["websocket.receive", None, "000162696e"]]
    assert early("sub", fragments, [DUMP, [1, True, "\u20ac".encode().decode("latin-1")], [2, True, "\x00\x01bin"]],
                 both + [GONE], ["returned"]) == (True, True)
    assert early("accept", hello, [DUMP, [1, True, "hello"], [1, True, "bye"]], [got, ["websocket.receive", "bye", None], GONE],
                 ["returned"], later=masked(1, b"bye")) == (True, True)  # and a message sent after the 101


def test_early_frames_that_fail_or_close_the_connection_end_the_app_with_that_code_or_its_send():
    op3, bye, empty = masked(3, b"op3"), masked(8, struct.pack("!H", 1000) + b"why"), masked(8, b"")
    raised = [["raised", "ClientDisconnected"]]
    assert early("accept", op3, [["close", 1002, "Invalid opcode 0x3"]], [], raised) == (True, True)  # the dump's send raised
    assert early("accept", op3, [DUMP, ["close", 1002, "Invalid opcode 0x3"]], [["websocket.disconnect", 1002]], ["returned"]) == (True, True)
    assert early("raise-after", masked(9, b"ping") + empty, [[10, True, "ping"], ["close", None, ""]], [], raised, "websockets") == (True, True)
    assert early("accept", bye, [DUMP, ["close", 1000, "why"]], [["websocket.disconnect", 1000]], ["returned"]) == (True, True)
    hello = masked(1, b"hello")
    assert early("accept", hello + op3, [DUMP, ["close", 1002, "Invalid opcode 0x3"]], [["websocket.receive", "hello", None]],
                 raised) == (True, True)  # the echo's send raised


def test_early_frames_do_not_hide_prefork_frames_or_app_ends_the_app_does_not_explain():
    hello, got = masked(1, b"hello"), ["websocket.receive", "hello", None]
    ghost = ["websocket.receive", "ghost", None]
    for ours, seen, log, rest in (
            ([DUMP, ["close", 1011, "boom"], [1, True, "stray"]], [ghost], [["raised", "RuntimeError"]], "junk"),  # all at once
            ([DUMP, [1, True, "hello"]], [got, GONE], ["returned"], "junk"),  # garbage after the frames
            ([DUMP, [1, True, "hello"]], [got, GONE], [["raised", "RuntimeError"]], ""),  # an app that raised
            ([DUMP, [1, True, "ghost"]], [ghost, GONE], ["returned"], ""),  # a message the client never sent
            ([DUMP, [1, True, "hello"], [1, True, "stray"]], [got, GONE], ["returned"], ""),  # a frame the app never sent
            ([DUMP, [1, True, "hellx"]], [got, GONE], ["returned"], ""),  # an echo that is not the message
            ([DUMP], [got, GONE], ["returned"], ""),  # an echo that never went out
            ([[10, True, "ping"], DUMP, [1, True, "hello"]], [got, GONE], ["returned"], ""),  # a pong to no ping
            ([DUMP, [1, True, "hello"]], [got, ["websocket.disconnect", 1005]], ["returned"], ""),  # a close nobody sent
            ([DUMP, [1, True, "hello"]], [got], ["returned"], ""),  # returned without a disconnect
            ([DUMP, [1, True, "hello"], ["close", 1002, "oops"]], [got, ["websocket.disconnect", 1002]], ["returned"], ""),
            ([DUMP], [got], [["raised", "ClientDisconnected"]], ""),  # a send raised on an open connection
            ([[1, True, "hello"], DUMP], [got, GONE], ["returned"], "")):  # the echo before the dump
        assert early("accept", hello, ours, seen, log, rest=rest)[0] is False, (ours, seen, log, rest)
    other = [1, True, {"type": "websocket", "path": "/elsewhere"}]
    assert early("accept", hello, [DUMP, [1, True, "hello"]], [got, GONE], ["returned"], theirs_dump=other)[0] is False


def test_no_message_after_a_failing_frame_or_the_clients_close_nor_a_socket_left_open_after_a_close_is_explained():
    op3, hello, bye = masked(3, b"op3"), masked(1, b"hello"), masked(8, struct.pack("!H", 1000))
    got = ["websocket.receive", "hello", None]
    assert early("accept", op3 + hello, [DUMP, [1, True, "hello"], ["close", 1002, "Invalid opcode 0x3"]],
                 [got, ["websocket.disconnect", 1002]], ["returned"])[0] is False
    assert early("accept", bye + hello, [DUMP, [1, True, "hello"], ["close", 1000, ""]],
                 [got, ["websocket.disconnect", 1000]], ["returned"])[0] is False
    assert early("accept", bye, [DUMP, ["close", 1000, "other"]], [["websocket.disconnect", 1000]], ["returned"])[0] is False
    assert early("accept", op3, [DUMP, ["close", 1007, "bad"]], [["websocket.disconnect", 1007]], ["returned"])[0] is False
    assert early("accept", op3, [["close", 1002, "Invalid opcode 0x3"]], [], [["raised", "ClientDisconnected"]], closed=False)[0] is False


def test_the_rule_keeps_to_frames_sent_with_the_handshake():
    hello, got = masked(1, b"hello"), ["websocket.receive", "hello", None]
    handshake = item("accept", ws="wsproto", frames=hello)  # the frames after the 101 only
    pre = side([H101, {"frames": [DUMP, [1, True, "hello"]], "rest": ""}], [CONNECT, got, GONE], ["returned"])
    uvi = side([H101, {"frames": [DUMP], "rest": ""}], [CONNECT, ["websocket.disconnect", 1005]], ["returned"])
    assert ws_frames_before_101(handshake, pre, uvi) is False


def test_early_compressed_messages_are_read_inflated_where_deflate_was_agreed():
    from fuzz_asgi_uvicorn_inputs import deflated
    squeezed = deflated(b"squeezed")
    frame = bytes([0xC1, 0x80 | len(squeezed)]) + b"\0\0\0\0" + squeezed  # FIN, RSV1, text
    got = ["websocket.receive", "squeezed", None]
    for offer, agreed in ((b"permessage-deflate", True), (b"x-unknown, permessage-deflate", True),
                          (b"permessage-deflate; server_max_window_bits=8", False), (b"x-unknown", False)):
        handshake = item("accept", extra=b"Sec-WebSocket-Extensions: " + offer + b"\r\n")
        handshake["steps"][0] += frame
        if agreed:  # the message as the app saw it, inflated
            ours, seen = [DUMP, [1, True, "squeezed"]], [CONNECT, got, GONE]
        else:  # RSV1 without the extension fails the connection
            ours, seen = [DUMP, ["close", 1002, "Reserved bit set unexpectedly"]], [CONNECT, ["websocket.disconnect", 1002]]
        pre = side([H101, {"frames": ours, "rest": ""}], seen, ["returned"])
        uvi = side([H101, {"frames": [DUMP], "rest": ""}], [CONNECT, ["websocket.disconnect", 1005]], ["returned"])
        assert ws_frames_before_101(handshake, pre, uvi) and pre == uvi, offer
        # the compressed bytes as the message is no explanation
        pre = side([H101, {"frames": [DUMP, [1, True, squeezed.decode("latin-1")]], "rest": ""}],
                   [CONNECT, ["websocket.receive", squeezed.decode("latin-1"), None], GONE], ["returned"])
        uvi = side([H101, {"frames": [DUMP], "rest": ""}], [CONNECT, ["websocket.disconnect", 1005]], ["returned"])
        assert not ws_frames_before_101(handshake, pre, uvi), offer
