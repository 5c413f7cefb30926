"""The known differences of the ASGI fuzz against uvicorn (tests/test_fuzz_asgi_uvicorn.py)
on WebSockets: ``KNOWN_WS``, its rules in the order they are applied (after the HTTP ones
of tests/fuzz_asgi_uvicorn_known.py), each with its reason. A rule takes the input and
both outcomes, edits them only where its exact condition holds, and says whether it did.
"""

import struct

from fuzz_asgi_uvicorn_known import drop_fields, dumps_in, headers_of


def ws_frames_before_101(item, pre, uvi):
    # frames sent with the handshake, before the 101: RFC 6455 4.1 has the client wait
    # for the server's answer first, so what a server makes of them is its own choice.
    # prefork keeps them until the app accepts and then reads them (a ping is answered,
    # a message delivered, a compressed one inflated where permessage-deflate was agreed,
    # an error fails the connection); uvicorn drops them and gives
    # the app websocket.disconnect (1005 on wsproto, 1006 on websockets). The handshake's
    # answer and the scope are still compared, and what prefork wrote after the 101 and
    # its app did must be what the fuzz app does for the client's frames (early_explained).
    from fuzz_asgi_uvicorn_known_websockets import failure  # (it imports this module)
    head, _, early = item["steps"][0].partition(b"\r\n\r\n")
    if item["kind"] != "ws" or not early or not pre["answers"] or pre["answers"][0].get("status") != 101 or pre == uvi:
        return False
    if len(pre["answers"]) != 2 or len(pre["app"]) != 1 or len(uvi["app"]) != 1 or pre["answers"][1].get("rest") != "":
        return False
    frames = list(pre["answers"][1].get("frames") or [])
    dump = uvi["answers"][1]["frames"][:1] if uvi["answers"][1:] and uvi["answers"][1].get("frames") else []
    if frames and dump and isinstance(frames[0][2], dict) and isinstance(dump[0][2], dict) and dump[0] != frames[0] or \
            not early_explained(item, frames, pre["app"][0], failure(item)):
        return False
    if frames and frames[-1][0] == "close" and pre["closed"] is not True:  # (a close frame sent, the socket left open)
        return False
    for side in (pre, uvi):
        side["answers"] = side["answers"][:1]
        side["closed"] = None
        for record in side["app"]:
            record.pop("seen", None)
            record.pop("log", None)
    return True


def ws_frames_before_late_101(item, pre, uvi):
    # the client's frames of a later step came before prefork's 101: the driver sends a
    # step after a pause, not after the answer, and a loaded worker accepted later than
    # that. prefork's app accepts and sends its first message in one loop turn (neither
    # send waits), so a first send after the 101 that raised ClientDisconnected, with no
    # message seen, shows the frames read at the accept: the case of
    # ws_frames_before_101 (uvicorn, had it read them there, would raise it too: its
    # handle_close echoes and closes, the send then raises ClientDisconnected).
    if item["kind"] != "ws" or len(item["steps"]) < 2 or item["steps"][0].partition(b"\r\n\r\n")[2]:
        return False
    if len(pre["app"]) != 1 or pre["app"][0].get("seen") != [["websocket.connect"]] or \
            pre["app"][0].get("log") != [["raised", "ClientDisconnected"]]:
        return False
    return ws_frames_before_101(dict(item, steps=[b"".join(item["steps"])]), pre, uvi)


def early_explained(item, frames, record, fail):
    """Whether prefork's ``frames`` after the 101 and its app's ``record`` are what
    tests/apps/fuzz_asgi.py does for the client's frames: the app saw the connect, the
    messages the client sent (in order, up to a failure or a close frame) and the
    disconnect with the failure's code, the client's close code or 1006 (lost); prefork
    wrote the scope's dump and what the app sends for what it saw (app_sends), the
    pongs to the client's pings and its last close frame (a failing one, or the echo of
    the client's). A send that raised ClientDisconnected is one after that close frame."""
    from fuzz_asgi_uvicorn_known_websockets import app_sends, client_closes, client_frames
    sent = client_frames(item)
    pings = [[10, True, body.decode("latin-1")] for opcode, body in sent if opcode == 9]
    frames = [f for f in frames if f not in pings]
    closes = client_closes(sent)
    code = fail or (closes[0][0] or 1005 if closes else 1006)
    closed = bool(frames) and frames[-1][0] == "close" and (frames[-1][1] == fail if fail else frames[-1][1:] == (closes or [None])[0])
    if closed:
        frames.pop()
    seen, log = record.get("seen") or [], record.get("log")
    if seen[:1] != [["websocket.connect"]]:
        return False
    got = seen[1:-1] if seen[-1:] == [["websocket.disconnect", code]] else seen[1:]
    if got != client_messages(item)[:len(got)]:
        return False
    sends, end = app_sends(item, seen)
    if log == [["raised", "ClientDisconnected"]]:  # the dump's send, or the last message's echo
        if not closed or len(seen) - 1 != len(got) or len(frames) != len(got) or len(frames) >= len(sends) - (end != ["returned"]):
            return False
        sends = sends[:len(frames)]
    elif log != end or end == ["returned"] and sends[-1:] != [["close", 4001, "bye"]] and len(seen) - 1 == len(got):
        return False  # (an app that returned without a disconnect or its own close)
    return len(frames) == len(sends) and (not frames or frames[0][0] == 1 and isinstance(frames[0][2], dict)) and \
        frames[1:] == sends[1:]


def client_messages(item):
    """The messages the client's frames carry, as the app's seen shows them, up to the
    frame that fails the connection or the first close frame."""
    from fuzz_asgi_uvicorn_known_websockets import failure, message_frames, raw_frames
    head = item["steps"][0].partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    data, messages, parts = b"", [], None
    frames = raw_frames(b"".join(item["steps"]).partition(b"\r\n\r\n")[2])
    for (opcode, payload, first, masked), (_, message, _, _) in zip(frames, message_frames(item)):
        size = bytes([len(payload) | masked << 7]) if len(payload) < 126 else \
            struct.pack("!BH", 126 | masked << 7, len(payload)) if len(payload) < 65536 else struct.pack("!BQ", 127 | masked << 7, len(payload))
        data += bytes([first]) + size + b"\0\0\0\0" * masked + payload  # (unmasked: a key of zeros)
        if opcode == 8 or failure(dict(item, steps=[head + data])) is not None:
            break
        if opcode in (0, 1, 2):  # (a compressed message's parts inflated)
            parts = (parts or [opcode]) + [message]
            if first & 0x80:
                body = b"".join(parts[1:])
                messages.append(["websocket.receive", body.decode("utf-8"), None] if parts[0] == 1 else ["websocket.receive", None, body.hex()])
                parts = None
    return messages


def ws_date_on_101(item, pre, uvi):
    # uvicorn writes Date on the 101; RFC 9110 6.6.1 asks for it on 2xx-4xx only, and
    # prefork's 101 (wsproto's) has none
    answers = uvi["answers"]
    if item["kind"] != "ws" or not answers or answers[0].get("status") != 101:
        return False
    drop_fields(answers[0], "date")
    return True


def wsproto_scope_headers(item, pre, uvi):
    # uvicorn's wsproto implementation builds ``headers`` from wsproto's extra_headers,
    # which leave out Sec-WebSocket-Protocol and Sec-WebSocket-Extensions; the spec's
    # headers are the ones received (uvicorn's websockets implementation keeps them)
    hit = False
    for dump in dumps_in(pre) if item.get("uvicorn_ws", "wsproto") == "wsproto" else ():
        if dump.get("type") == "websocket":
            kept = [h for h in dump["headers"] if h[0] not in ("sec-websocket-protocol", "sec-websocket-extensions")]
            hit |= kept != dump["headers"]
            dump["headers"] = kept
    return hit


REASONS = {400: "Bad Request", 426: "Upgrade Required"}
REFUSED = "Failed to open a WebSocket connection: "  # the websockets library's 400 body


def ws_refusal(item, pre, uvi):
    # docs/asgi.md: a refused handshake (400, 426) gets its reason phrase, Date,
    # Connection: close and the reason as a short text body; uvicorn (wsproto) sends an
    # empty reason phrase and body, and neither field; the websockets library its own
    # text as text/plain (and no Sec-WebSocket-Version). The status, the framing and the
    # other fields are compared. A Sec-WebSocket-Key that is not base64 of 16 bytes is
    # refused by prefork (as the websockets library refuses it); wsproto accepts it.
    p, u = pre["answers"], uvi["answers"]
    if item["kind"] != "ws" or len(p) != 1 or not documented_refusal(p[0]) or pre["app"]:
        return False
    key = next((line[19:] for line in item["steps"][0].split(b"\r\n") if line.startswith(b"Sec-WebSocket-Key: ")), b"")
    if p[0]["status"] == 400 and key and (len(key) != 24 or key == b"=" * 24) and \
            item.get("uvicorn_ws", "wsproto") == "wsproto" and (not u or u[0].get("status") not in REASONS):
        uvi["answers"], uvi["app"], uvi["closed"] = pre["answers"], pre["app"], pre["closed"]
        return True
    if len(u) != 1 or u[0].get("status") != p[0]["status"] or not length_of_body(u[0]):
        return False
    if item.get("uvicorn_ws", "wsproto") == "wsproto":
        if u[0].get("reason") != "" or u[0].get("body") != "":
            return False
        as_theirs(p[0], u[0], ("content-length", "content-type", "date", "connection"))
    elif websockets_refused(u[0]):
        as_theirs(p[0], u[0], ("content-length", "content-type", "sec-websocket-version"))
    else:
        return False
    return True


def documented_refusal(answer):
    """Whether prefork's refusal of a handshake has the form docs/asgi.md gives it: its
    reason phrase, Date, Connection: close, a short text body with its length, and
    Sec-WebSocket-Version: 13 (which a 426 must have); nothing else."""
    fields, body, status = headers_of(answer), answer.get("body"), answer.get("status")
    if status not in REASONS or answer.get("reason") != REASONS[status] or not isinstance(body, str) or \
            not body.strip() or len(body) > 200 or not length_of_body(answer):
        return False
    if len(fields) != len(answer["headers"]) or set(fields) - {"sec-websocket-version"} != \
            {"connection", "content-length", "content-type", "date"} or status == 426 and "sec-websocket-version" not in fields:
        return False
    return fields["connection"] == "close" and fields["content-type"] == "text/plain; charset=utf-8" and \
        fields["date"] == "<date>" and fields.get("sec-websocket-version", "13") == "13"


def websockets_refused(answer):
    """Whether an answer is the websockets library's refusal: 400 with its text/plain text."""
    return answer.get("status") == 400 and answer.get("reason") == "Bad Request" and \
        str(answer.get("body")).startswith(REFUSED) and headers_of(answer).get("content-type") == "text/plain"


def length_of_body(answer):
    """Whether an answer is framed by a Content-Length that is its body's."""
    return answer.get("framing") == "length" and isinstance(answer.get("body"), str) and \
        headers_of(answer).get("content-length") == str(len(answer["body"].encode("latin-1")))


def as_theirs(ours, theirs, names, status=False):
    """prefork's refusal ``ours`` made ``theirs`` in its reason phrase, its body, the
    fields ``names`` (and with ``status``, its status): what a rule names; the rest of
    the two answers is still compared."""
    ours["reason"], ours["body"] = theirs.get("reason"), theirs.get("body")
    if status:
        ours["status"] = theirs.get("status")
    ours["headers"] = sorted([h for h in ours["headers"] if h[0] not in names] +
                             [h for h in theirs.get("headers", ()) if h[0] in names])


def ws_lost_code(item, pre, uvi):
    # docs/asgi.md: a connection lost without a close frame is 1006 for the app (RFC
    # 6455 7.1.5); uvicorn gives 1005
    hit = False
    for p, u in zip(pre["app"], uvi["app"]):
        for ps, us in zip(p.get("seen", ()), u.get("seen", ())):
            if ps == ["websocket.disconnect", 1006] and us == ["websocket.disconnect", 1005]:
                us[1] = 1006
                hit = True
    return hit


def ws_denial(item, pre, uvi):
    # docs/asgi.md: the denial response (websocket.http.response.start) is a whole HTTP
    # response with its reason phrase, Date and Connection: close; uvicorn (wsproto)
    # sends an empty reason phrase and neither field. Status, the app's headers, the
    # framing and the body are still compared. (uvicorn on websockets sends both fields.)
    p, u = pre["answers"], uvi["answers"]
    if item["kind"] != "ws" or not p or not u or p[0].get("status") != 403 or u[0].get("status") != 403 or \
            {"date", "connection"} & set(headers_of(u[0])):
        return False
    drop_fields(p[0], "date", "connection")
    p[0]["reason"] = u[0]["reason"]
    return True


def ws_wsproto_answers(item, pre, uvi):
    # uvicorn's wsproto implementation writes its 500 (an app that fails before
    # accepting) and its 403 (websocket.close before accepting) without a reason phrase
    # or Date, and the 403 without Content-Type; prefork's are whole HTTP responses
    # (docs/asgi.md; its 403 has uvicorn's websockets implementation's Content-Type)
    p, u = pre["answers"], uvi["answers"]
    if item["kind"] != "ws" or not p or not u or p[0].get("status") not in (403, 500) or \
            u[0].get("status") != p[0]["status"] or u[0].get("reason") != "":
        return False
    p[0]["reason"] = ""
    drop_fields(p[0], "date", "content-type" if p[0]["status"] == 403 and "content-type" not in headers_of(u[0]) else "date")
    return True


def ws_failing_close(item, pre, uvi):
    # RFC 6455 7.1.7: an endpoint that fails the connection (a protocol error, invalid
    # UTF-8, a message over ws_max_size) sends a close frame first (1002, 1007, 1009);
    # prefork does, uvicorn's wsproto implementation drops the connection without one
    for p, u in zip(pre["answers"][1:], uvi["answers"][1:]):
        frames = p.get("frames") or []
        if frames and frames[-1][0] == "close" and frames[-1][1] in (1002, 1007, 1009) and \
                frames[:-1] == u.get("frames"):
            p["frames"] = u["frames"]
            return True
    return False


def ws_send_after_failure(item, pre, uvi):
    # the client's frames fail the connection (1002, 1007, 1009) while the app is about
    # to send: the send raises ClientDisconnected in prefork (spec 2.4: an OSError), and
    # returns, or raises RuntimeError, in uvicorn's wsproto implementation
    frames = (pre["answers"][1:2] or [{}])[0].get("frames") or []
    if item["kind"] != "ws" or not frames or frames[-1][0] != "close" or frames[-1][1] not in (1002, 1007, 1009):
        return False
    hit = False
    for p, u in zip(pre["app"], uvi["app"]):
        seen = p.get("seen", [])
        if p.get("log") == [["raised", "ClientDisconnected"]] and u.get("log") in (["returned"], [["raised", "RuntimeError"]]) and \
                u.get("seen", [])[:len(seen)] == seen:
            u["log"], u["seen"] = p["log"], seen  # (the messages after the send that raised are not taken)
            hit = True
    if hit and uvi["answers"][1:2]:
        uvi["answers"][1]["frames"] = [f for f in uvi["answers"][1]["frames"] if f in frames]
        pre["answers"][1]["frames"] = [f for f in frames if f in uvi["answers"][1]["frames"] or f[0] == "close"]
    return hit


def ws_app_failed_close(item, pre, uvi):
    # docs/asgi.md: an app that raises after accepting is closed with 1011 (RFC 6455
    # 7.4.1); uvicorn's wsproto implementation drops the connection without a close frame
    p, u = pre["answers"][1:2], uvi["answers"][1:2]
    if item["kind"] != "ws" or not p or not u or not (p[0].get("frames") or [None])[-1] == ["close", 1011, ""]:
        return False
    if p[0]["frames"][:-1] != u[0].get("frames") or not any(r.get("log", [None])[-1] == ["raised", "ValueError"]
                                                            for r in pre["app"]):
        return False
    p[0]["frames"] = u[0]["frames"]
    return True


def ws_close_fin(item, pre, uvi):
    # docs/asgi.md: the app's websocket.close sends the close frame and ends the socket
    # (its write side: the client's echo is still read, for close_timeout); uvicorn keeps
    # the connection open until the client echoes
    frames = (pre["answers"][1:2] or [{}])[0].get("frames") or []
    if item["kind"] != "ws" or not frames or frames[-1] != ["close", 4001, "bye"] or not pre["closed"] or uvi["closed"]:
        return False
    uvi["closed"] = True
    return True


# the WebSocket rules of KNOWN, in the order they are applied
KNOWN_WS = [
    ws_date_on_101, wsproto_scope_headers, ws_refusal, ws_frames_before_101, ws_frames_before_late_101, ws_lost_code, ws_denial,
    ws_send_after_failure, ws_app_failed_close, ws_close_fin, ws_wsproto_answers, ws_failing_close,
]
