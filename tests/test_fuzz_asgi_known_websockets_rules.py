"""The rules for uvicorn's ``--ws websockets`` implementation in the ASGI fuzz
(tests/fuzz_asgi_uvicorn_known_websockets.py), on outcomes of the shapes the fuzz showed:
each makes its quirk equal, and leaves a real difference (or the other implementation)
in place."""

import copy
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fuzz_asgi_uvicorn_known_websockets as rules  # noqa: E402

HEAD = (b"GET /ws/%s?q=1 HTTP/1.1\r\nHost: x\r\nX-Fuzz-Id: 1-1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: %s\r\n%s\r\n")
H101 = {"status": 101, "reason": "Switching Protocols", "version": "HTTP/1.1",
        "headers": [["connection", "Upgrade"], ["upgrade", "websocket"]]}
CONNECT = ["websocket.connect"]


def item(mode="accept", version=b"13", extra=b"", frames=b"", half_close=False, ws="websockets"):
    steps = [HEAD % (mode.encode(), version, extra)] + ([frames] if frames else [])
    return {"kind": "ws", "steps": steps, "half_close": half_close, "uvicorn_ws": ws, "id": "1-1"}


def side(answers, seen, log, closed=True):
    return {"answers": copy.deepcopy(answers), "closed": closed, "app": [{"scope": {}, "seen": copy.deepcopy(seen), "log": log}]}


def response(status, reason, headers, body, framing="length"):
    return {"status": status, "reason": reason, "version": "HTTP/1.1", "headers": sorted(headers), "framing": framing, "body": body}


def masked(opcode, payload):
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def test_a_version_other_than_13_refused_426_by_prefork_and_400_by_websockets_is_known():
    refused = response(426, "Upgrade Required", [["connection", "close"], ["sec-websocket-version", "13"]], "13 only\n")
    theirs = response(400, "Bad Request", [["connection", "close"]], "Failed to open a WebSocket connection: invalid Sec-WebSocket-Version header: 8.\n")
    pre, uvi = side([refused], [], None), side([theirs], [], None)
    assert rules.websockets_version_refusal(item(version=b"8"), pre, uvi) and pre == uvi
    pre, uvi = side([refused], [], None), side([theirs], [], None)
    assert not rules.websockets_version_refusal(item(version=b"13"), pre, uvi)  # a 426 to version 13 is a finding
    pre, uvi = side([refused], [], None), side([theirs], [], None)
    assert not rules.websockets_version_refusal(item(version=b"8", ws="wsproto"), pre, uvi)


def test_the_403_of_a_close_before_accepting_differs_only_in_its_content_type():
    fields = [["connection", "close"], ["content-length", "0"], ["date", "<date>"]]
    ours = response(403, "Forbidden", fields + [["content-type", "text/plain; charset=utf-8"]], "")
    theirs = response(403, "Forbidden", fields + [["content-type", "text/plain"]], "")
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert rules.websockets_close_before_accept(item("close"), pre, uvi) and pre == uvi
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([dict(theirs, headers=sorted(fields[:2] + [["content-type", "text/plain"]]))], [CONNECT], ["returned"])
    assert rules.websockets_close_before_accept(item("close"), pre, uvi) and pre != uvi  # a missing Date is still seen


def test_a_denial_gathered_with_a_length_by_websockets_and_chunked_by_prefork_is_known_only_with_the_same_body():
    ours = dict(response(403, "Forbidden", [["connection", "close"], ["date", "<date>"], ["transfer-encoding", "chunked"], ["x-denied", "1"]],
                         "denied", "chunked"), trailers=[])
    theirs = response(403, "Forbidden", [["connection", "close"], ["content-length", "6"], ["content-type", "text/plain"], ["date", "<date>"],
                                         ["x-denied", "1"]], "denied")
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert rules.websockets_denial_buffered(item("deny"), pre, uvi) and pre == uvi
    short = dict(copy.deepcopy(ours), body="deni")
    pre, uvi = side([short], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert rules.websockets_denial_buffered(item("deny"), pre, uvi) and pre != uvi  # a body cut short is still seen


def test_websockets_500_without_date_and_the_101_after_it_are_known_only_for_an_app_that_never_accepted():
    ours = response(500, "Internal Server Error", [["connection", "close"], ["date", "<date>"]], "Internal Server Error")
    theirs = response(500, "Internal Server Error", [["connection", "close"]], "Internal Server Error")
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs, H101], [CONNECT], ["returned"])
    assert rules.websockets_500(item("return"), pre, uvi) and pre == uvi
    pre, uvi = side([ours], [CONNECT, ["websocket.receive", "x", None]], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert not rules.websockets_500(item("return"), pre, uvi)


def test_a_failing_close_without_reason_and_its_1006_are_known_but_not_another_code():
    frames = [[1, True, "{}"]]
    ours = [H101, {"frames": frames + [["close", 1002, "unexpected CONTINUATION"]], "rest": ""}]
    theirs = [H101, {"frames": frames + [["close", 1002, ""]], "rest": ""}]
    pre = side(ours, [CONNECT, ["websocket.disconnect", 1002]], ["returned"])
    uvi = side(theirs, [CONNECT, ["websocket.disconnect", 1006]], ["returned"])
    assert rules.websockets_failing_close(item(), pre, uvi) and pre == uvi
    theirs[1]["frames"][-1][1] = 1007
    pre = side(ours, [CONNECT, ["websocket.disconnect", 1002]], ["returned"])
    uvi = side(theirs, [CONNECT, ["websocket.disconnect", 1006]], ["returned"])
    assert not rules.websockets_failing_close(item(), pre, uvi)


def test_a_bad_close_code_with_a_bad_reason_is_1002_or_1007_only_when_the_client_sent_both():
    ours = [H101, {"frames": [["close", 1002, "remote CLOSE with local-only reason"]], "rest": ""}]
    theirs = [H101, {"frames": [["close", 1007, ""]], "rest": ""}]
    both = masked(8, struct.pack("!H", 1005) + b"\xff")
    pre, uvi = side(ours, [CONNECT], ["returned"]), side(theirs, [CONNECT], ["returned"])
    assert rules.websockets_bad_close_frame(item(frames=both), pre, uvi)
    assert uvi["answers"][1]["frames"] == [["close", 1002, ""]]
    for frame in (masked(8, struct.pack("!H", 1005) + b"why"), masked(8, struct.pack("!H", 1000) + b"\xff")):
        pre, uvi = side(ours, [CONNECT], ["returned"]), side(theirs, [CONNECT], ["returned"])
        assert not rules.websockets_bad_close_frame(item(frames=frame), pre, uvi)


def test_a_half_close_that_websockets_takes_for_the_end_is_known_only_where_uvicorn_stopped_writing():
    dump = [1, True, "{}"]
    ours = [H101, {"frames": [dump, [2, True, "bin"]], "rest": ""}]
    theirs = [H101, {"frames": [dump], "rest": ""}]
    received = [CONNECT, ["websocket.receive", None, "62696e"]]
    pre = side(ours, received + [["websocket.disconnect", 1006]], ["returned"])
    uvi = side(theirs, received, [["raised", "ClientDisconnected"]])
    assert rules.websockets_half_close(item(half_close=True), pre, uvi) and pre == uvi
    pre = side(ours, received + [["websocket.disconnect", 1006]], ["returned"])
    uvi = side(theirs, received, [["raised", "ClientDisconnected"]])
    assert not rules.websockets_half_close(item(half_close=False), pre, uvi)
    pre = side(ours, received + [["websocket.disconnect", 1006]], ["returned"])
    uvi = side([H101, {"frames": [[1, True, "other"]], "rest": ""}], received, [["raised", "ClientDisconnected"]])
    assert not rules.websockets_half_close(item(half_close=True), pre, uvi)  # a frame prefork did not send
    pre = side([H101, {"frames": [dump], "rest": ""}], [CONNECT, ["websocket.disconnect", 1006]], ["returned"])
    uvi = side([], [CONNECT], [["raised", "ClientDisconnected"]])
    assert rules.websockets_half_close(item(half_close=True), pre, uvi) and pre == uvi  # uvicorn wrote no 101
    ghost = [CONNECT, ["websocket.receive", "ghost", None], ["websocket.disconnect", 1006]]
    pre, uvi = side([H101, {"frames": [dump], "rest": ""}], ghost, ["returned"]), side([], [CONNECT], [["raised", "ClientDisconnected"]])
    assert not rules.websockets_half_close(item(half_close=True), pre, uvi)  # a message the client never sent
    pre, uvi = side([H101, {"frames": [dump], "rest": ""}], ghost, ["returned"]), side([], [CONNECT], [["raised", "ClientDisconnected"]])
    assert rules.websockets_half_close(item(half_close=True, frames=masked(1, b"ghost")), pre, uvi) and pre == uvi


def test_a_close_after_the_clients_close_raises_in_prefork_and_returns_in_websockets():
    frames = [H101, {"frames": [[1, True, "{}"], ["close", None, ""]], "rest": ""}]
    seen = [CONNECT, ["websocket.receive", "hello", None]]
    pre, uvi = side(frames, seen, [["raised", "ClientDisconnected"]]), side(frames, seen, ["returned"])
    assert rules.websockets_close_after_client_close(item("close-after"), pre, uvi) and pre == uvi
    pre, uvi = side(frames, seen, [["raised", "ClientDisconnected"]]), side(frames, seen, ["returned"])
    assert not rules.websockets_close_after_client_close(item("accept"), pre, uvi)  # an echo's send: a finding


def test_the_deflate_answer_without_client_max_window_bits_is_known_only_for_that_offer():
    offer = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    ours = dict(H101, headers=H101["headers"] + [["sec-websocket-extensions", "permessage-deflate; client_max_window_bits=15"]])
    theirs = dict(H101, headers=H101["headers"] + [["sec-websocket-extensions", "permessage-deflate"]])
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert rules.websockets_deflate_window_bits(item(extra=offer), pre, uvi) and pre == uvi
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert not rules.websockets_deflate_window_bits(item(extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n"), pre, uvi)
