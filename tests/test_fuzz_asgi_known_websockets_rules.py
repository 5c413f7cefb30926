"""The rules for uvicorn's ``--ws websockets`` implementation in the ASGI fuzz
(tests/fuzz_asgi_uvicorn_known_websockets.py), on outcomes of the shapes the fuzz showed:
each makes its quirk equal, and leaves a real difference (or the other implementation)
in place."""

import copy
import os
import struct
import sys
import zlib

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


OURS_426 = response(426, "Upgrade Required", [["connection", "close"], ["content-length", "77"], ["content-type", "text/plain; charset=utf-8"],
                                               ["date", "<date>"], ["sec-websocket-version", "13"]],
                    "Bad WebSocket handshake: unsupported Sec-WebSocket-Version (13 is supported)\n")
THEIRS_400 = response(400, "Bad Request", [["connection", "close"], ["content-length", "80"], ["content-type", "text/plain"], ["date", "<date>"]],
                      "Failed to open a WebSocket connection: invalid Sec-WebSocket-Version header: 8.\n")


def test_a_version_other_than_13_refused_426_by_prefork_and_400_by_websockets_is_known():
    pre, uvi = side([OURS_426], [], None), side([THEIRS_400], [], None)
    assert rules.websockets_version_refusal(item(version=b"8"), pre, uvi) and pre == uvi
    pre, uvi = side([OURS_426], [], None), side([THEIRS_400], [], None)
    assert not rules.websockets_version_refusal(item(version=b"13"), pre, uvi)  # a 426 to version 13 is a finding
    pre, uvi = side([OURS_426], [], None), side([THEIRS_400], [], None)
    assert not rules.websockets_version_refusal(item(version=b"8", ws="wsproto"), pre, uvi)


def test_a_426_whose_body_length_or_fields_are_not_the_documented_ones_is_a_finding():
    broken = response(426, "Upgrade Required", [["content-length", "999"], ["sec-websocket-version", "13"], ["set-cookie", "x=1"]], "garbage")
    pre, uvi = side([broken], [], None), side([THEIRS_400], [], None)
    assert not rules.websockets_version_refusal(item(version=b"8"), pre, uvi)
    for name, value in (["set-cookie", "x=1"], ["content-type", "text/html"], ["sec-websocket-version", "8"], ["connection", "keep-alive"]):
        odd = copy.deepcopy(OURS_426)
        odd["headers"] = sorted([h for h in odd["headers"] if h[0] != name] + [[name, value]])
        pre, uvi = side([odd], [], None), side([THEIRS_400], [], None)
        assert not rules.websockets_version_refusal(item(version=b"8"), pre, uvi), name
    for answer in (dict(OURS_426, body="13 only"), dict(OURS_426, reason="Nope"), dict(OURS_426, framing="chunked")):
        pre, uvi = side([answer], [], None), side([THEIRS_400], [], None)
        assert not rules.websockets_version_refusal(item(version=b"8"), pre, uvi)


def test_what_the_version_refusal_does_not_name_is_still_compared():
    no_date = dict(THEIRS_400, headers=[h for h in THEIRS_400["headers"] if h[0] != "date"])
    cookie = dict(THEIRS_400, headers=sorted(THEIRS_400["headers"] + [["set-cookie", "x=1"]]))
    for theirs in (no_date, cookie, dict(THEIRS_400, version="HTTP/1.0")):
        pre, uvi = side([OURS_426], [], None), side([theirs], [], None)
        assert rules.websockets_version_refusal(item(version=b"8"), pre, uvi) and pre != uvi
    pre, uvi = side([OURS_426], [], None, closed=False), side([THEIRS_400], [], None)
    assert rules.websockets_version_refusal(item(version=b"8"), pre, uvi) and pre != uvi  # a connection left open


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
    pre = side([H101, {"frames": [dump, [1, True, "ghost"]], "rest": ""}], ghost, ["returned"])
    uvi = side([], [CONNECT], [["raised", "ClientDisconnected"]])
    assert rules.websockets_half_close(item(half_close=True, frames=masked(1, b"ghost")), pre, uvi) and pre == uvi


def half_closed(mode, frames, ours, seen, log):
    """A half-close to which uvicorn on websockets wrote no 101 and prefork wrote
    ``ours`` after it, its app seeing ``seen`` and ending with ``log``: the rule's verdict
    and whether the outcomes are then equal."""
    pre = side([H101, {"frames": ours, "rest": ""}], [CONNECT] + seen, log)
    uvi = side([], [CONNECT], [["raised", "ClientDisconnected"]])
    return rules.websockets_half_close(item(mode, frames=frames, half_close=True), pre, uvi), pre == uvi


def test_what_prefork_sent_and_its_app_did_after_a_half_close_is_what_the_app_does_for_what_it_saw():
    dump, hello, ping = [1, True, "{}"], masked(1, b"hello"), masked(9, b"ping")
    got, gone = ["websocket.receive", "hello", None], ["websocket.disconnect", 1006]
    assert half_closed("accept", hello, [dump, [1, True, "hello"]], [got, gone], ["returned"]) == (True, True)
    assert half_closed("accept", ping + hello, [dump, [10, True, "ping"], [1, True, "hello"]], [got, gone], ["returned"]) == (True, True)
    assert half_closed("close-after", hello, [dump, ["close", 4001, "bye"]], [got], ["returned"]) == (True, True)
    assert half_closed("raise-after", hello, [dump, ["close", 1011, ""]], [got], [["raised", "ValueError"]]) == (True, True)
    assert half_closed("accept", hello, [dump], [got], [["raised", "ClientDisconnected"]]) == (True, True)  # its echo's send raised
    bad = masked(3, b"op3")
    assert half_closed("accept", bad, [["close", 1002, "Invalid opcode 0x3"]], [], [["raised", "ClientDisconnected"]]) == (True, True)
    bye = masked(8, struct.pack("!H", 1000) + b"why")
    assert half_closed("accept", bye, [dump, ["close", 1000, "why"]], [["websocket.disconnect", 1000]], ["returned"]) == (True, True)


def test_a_half_close_does_not_hide_prefork_frames_or_app_ends_the_app_does_not_explain():
    dump, hello = [1, True, "{}"], masked(1, b"hello")
    got, gone = ["websocket.receive", "hello", None], ["websocket.disconnect", 1006]
    for ours, log in (
            ([dump, ["close", 1011, "boom"], [1, True, "stray"]], [["raised", "RuntimeError"]]),  # the app's send raised
            ([dump, [1, True, "hello"]], [["raised", "RuntimeError"]]),
            ([dump, [1, True, "hello"], [1, True, "stray"]], ["returned"]),  # a frame the app never sent
            ([dump, [1, True, "hello"], ["close", 1011, ""]], ["returned"]),  # a close of its own
            ([dump, [1, True, "hellx"]], ["returned"]),  # an echo that is not the message
            ([dump], ["returned"]),  # a message the app echoed that never went out
            ([dump, [10, True, "ping"], [1, True, "hello"]], ["returned"]),  # a pong to a ping the client never sent
            ([dump, [1, True, "hello"], ["close", 1002, "oops"]], ["returned"]),  # a failure in frames that were fine
            ([dump, [1, True, "hello"], [1, True, "hello"]], [["raised", "ClientDisconnected"]])):
        assert half_closed("accept", hello, ours, [got, gone], log)[0] is False, (ours, log)
    # a send that raised ClientDisconnected but went out, or after which the app went on
    assert half_closed("raise-after", hello, [dump, ["close", 1011, ""]], [got], [["raised", "ClientDisconnected"]])[0] is False
    assert half_closed("accept", hello, [dump, [1, True, "hello"]], [got], [["raised", "ClientDisconnected"]])[0] is False
    assert half_closed("raise-after", hello, [], [got], [["raised", "ClientDisconnected"]])[0] is False
    assert half_closed("accept", hello, [dump, ["close", 1000, ""]], [got, ["websocket.disconnect", 1000]], ["returned"])[0] is False


def test_a_close_after_the_clients_close_raises_in_prefork_and_returns_in_websockets():
    frames = [H101, {"frames": [[1, True, "{}"], ["close", None, ""]], "rest": ""}]
    seen = [CONNECT, ["websocket.receive", "hello", None]]
    closed = masked(1, b"hello") + masked(8, b"")
    pre, uvi = side(frames, seen, [["raised", "ClientDisconnected"]]), side(frames, seen, ["returned"])
    assert rules.websockets_close_after_client_close(item("close-after", frames=closed), pre, uvi) and pre == uvi
    pre, uvi = side(frames, seen, [["raised", "ClientDisconnected"]]), side(frames, seen, ["returned"])
    assert not rules.websockets_close_after_client_close(item("accept", frames=closed), pre, uvi)  # an echo's send: a finding
    pre, uvi = side(frames, seen, [["raised", "ClientDisconnected"]]), side(frames, seen, ["returned"])
    assert not rules.websockets_close_after_client_close(item("close-after", frames=masked(1, b"hello")), pre, uvi)  # no close sent


def test_the_deflate_answer_without_client_max_window_bits_is_known_only_for_that_offer():
    offer = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    ours = dict(H101, headers=H101["headers"] + [["sec-websocket-extensions", "permessage-deflate; client_max_window_bits=15"]])
    theirs = dict(H101, headers=H101["headers"] + [["sec-websocket-extensions", "permessage-deflate"]])
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert rules.websockets_deflate_window_bits(item(extra=offer), pre, uvi) and pre == uvi
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert not rules.websockets_deflate_window_bits(item(extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n"), pre, uvi)


def test_deflate_parameters_agreed_in_another_order_are_known_but_not_other_parameters():
    offer = b"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n"

    def answered(value):
        return dict(H101, headers=H101["headers"] + [["sec-websocket-extensions", value]])
    ours = answered("permessage-deflate; client_no_context_takeover; server_no_context_takeover")
    theirs = answered("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert rules.websockets_deflate_parameter_order(item(extra=offer), pre, uvi) and pre == uvi
    # another parameter agreed (or one missing) is a finding, and so is the other implementation's
    for other in ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover; "
                  "client_no_context_takeover; client_max_window_bits=15"):
        pre, uvi = side([ours], [CONNECT], ["returned"]), side([answered(other)], [CONNECT], ["returned"])
        assert not rules.websockets_deflate_parameter_order(item(extra=offer), pre, uvi) and pre != uvi
    pre, uvi = side([ours], [CONNECT], ["returned"]), side([theirs], [CONNECT], ["returned"])
    assert not rules.websockets_deflate_parameter_order(item(extra=offer, ws="wsproto"), pre, uvi)


def test_the_code_a_clients_frames_fail_the_connection_with_is_read_from_the_frames():
    def code(frames, extra=b""):
        return rules.failure(item(frames=frames, extra=extra))
    fin = lambda opcode, payload: masked(opcode, payload)  # noqa: E731
    begun = bytes([0x01, 0x82]) + b"\0\0\0\0" + b"fr"  # a text begun, not ended
    assert code(fin(1, b"hello") + fin(9, b"ping") + fin(8, b"")) is None
    assert code(begun + fin(9, b"mid") + fin(0, b"ag")) is None
    assert code(bytes([0x81, 0x02]) + b"hi") == 1002  # unmasked
    assert code(fin(3, b"op3")) == code(fin(0, b"cont")) == code(begun + fin(1, b"x")) == 1002
    assert code(bytes([0xA1, 0x80]) + b"\0\0\0\0") == 1002  # RSV2
    assert code(fin(1, b"\xff\xfe bad")) == 1007 and code(begun[:-2] + b"\xe2\x82" + fin(0, b"\xac")) is None
    assert code(begun[:-2] + b"\xff\xfe") == 1007  # a text whose start is not UTF-8, never ended
    assert code(fin(8, struct.pack("!H", 1000) + b"\xff")) == 1007 and code(fin(8, struct.pack("!H", 1005))) == 1002
    assert code(fin(8, b"\x03")) == 1002 and code(fin(8, b"") + fin(3, b"after the close")) is None
    big = bytes([0x82, 0xFE]) + struct.pack("!H", 4097) + b"\0\0\0\0" + b"x" * 4097
    assert code(big) == 1009


def test_compressed_messages_are_inflated_and_one_that_does_not_inflate_fails_with_1007():
    offer = b"Sec-WebSocket-Extensions: permessage-deflate\r\n"

    def code(frames):
        return rules.failure(item(frames=frames, extra=offer))

    def deflated(data):
        squeeze = zlib.compressobj(wbits=-15)
        return (squeeze.compress(data) + squeeze.flush(zlib.Z_SYNC_FLUSH))[:-4]
    text = deflated(b"hello")
    assert code(bytes([0xC1, 0x80 | len(text)]) + b"\0\0\0\0" + text) is None
    # a continuation after the compressed message's final frame begins no message: 1002,
    # as for any stray continuation (it was inflated, and zlib.error escaped the model)
    assert code(bytes([0xC1, 0x80 | len(text)]) + b"\0\0\0\0" + text + masked(0, b"\xff\xff\xff stray")) == 1002
    # a compressed message that does not inflate: prefork (wsproto) fails it with 1007
    assert code(bytes([0xC1, 0x84]) + b"\0\0\0\0" + b"\xff\xff\xff\xff") == 1007
    assert code(bytes([0x41, 0x83]) + b"\0\0\0\0" + b"\xff\xff\xff" + masked(0, b"more")) == 1007
    # without permessage-deflate agreed, RSV1 is a protocol error
    assert rules.failure(item(frames=bytes([0xC1, 0x84]) + b"\0\0\0\0" + b"\xff\xff\xff\xff")) == 1002
