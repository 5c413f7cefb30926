"""The known differences of the ASGI fuzz against uvicorn (tests/test_fuzz_asgi_uvicorn.py)
that belong to uvicorn's ``--ws websockets`` implementation (the ``websockets`` library's
legacy server under it): ``KNOWN_WEBSOCKETS_FIRST``, applied before every other rule (the
client's half-close, which tests/fuzz_asgi_uvicorn_known.py's rules would cut first),
and ``KNOWN_WEBSOCKETS``, applied after tests/fuzz_asgi_uvicorn_known_ws.py's. Each rule
fires only for that implementation, edits both outcomes only where its exact condition
holds, says whether it did, and gives its reason.
"""

import codecs
import re
import struct
import zlib

from fuzz_asgi_uvicorn_inputs import WS_MAX
from fuzz_asgi_uvicorn_known import drop_fields, headers_of
from fuzz_asgi_uvicorn_known_ws import as_theirs, documented_refusal, websockets_refused

FAILURES = (1002, 1007, 1009)  # the codes a server fails a connection with (RFC 6455 7.4.1)


def on_websockets(item):
    return item["kind"] == "ws" and item.get("uvicorn_ws") == "websockets"


def request_field(item, name):
    """The value of the handshake's field ``name`` (bytes), None if absent."""
    head = item["steps"][0].partition(b"\r\n\r\n")[0]
    found = re.search(rb"\r\n" + name + rb": ([^\r]*)", head)
    return found.group(1) if found else None


def ws_mode(item):
    found = re.match(rb"[A-Z]+ /ws/([a-z-]+)", item["steps"][0])
    return found.group(1).decode() if found else None


def client_frames(item):
    """The client's frames after the handshake, unmasked: (opcode, payload) pairs."""
    return [(opcode, payload) for opcode, payload, _, _ in raw_frames(b"".join(item["steps"]).partition(b"\r\n\r\n")[2])]


def websockets_half_close(item, pre, uvi):
    # a client that half-closes (its FIN after the handshake and its frames): the
    # websockets library takes the FIN for the end of the connection, so uvicorn writes
    # nothing more (not even the 101, if the app had not accepted yet): the app's sends
    # from then on raise ClientDisconnected, or return for a websocket.close. prefork
    # goes on answering (the client still reads), gives the app what it read, then
    # 1006. What uvicorn wrote and its app saw are compared with the same on prefork;
    # what prefork wrote beyond it must be what the app sends for what it saw (see
    # app_sends), the pongs to the client's pings and a last close frame (a failing one,
    # or the echo of the client's), and its app's end the app's own or ClientDisconnected.
    p, u = pre["answers"], uvi["answers"]
    if not on_websockets(item) or not item["half_close"] or not uvi["closed"] or not p or p[0].get("status") != 101:
        return False
    if u and (len(u) != 2 or len(p) != 2 or u[0].get("status") != 101):
        return False
    uf, pf = (u[1].get("frames") or [], p[1].get("frames") or []) if u else ([], p[1:2] and p[1].get("frames") or [])
    if pf[:len(uf)] != uf or len(uvi["app"]) != len(pre["app"]) or len(pre["app"]) != 1:
        return False
    sent = client_frames(item)
    messages = sum(1 for opcode, _ in sent if opcode in (1, 2))  # messages the client began
    p_record, u_record = pre["app"][0], uvi["app"][0]
    ps, us = p_record.get("seen") or [], u_record.get("seen") or []
    if not us or ps[:len(us)] != us:
        return False
    if u_record.get("log") not in ([["raised", "ClientDisconnected"]], ["returned"]) or (not u and len(us) != 1):
        return False
    frames = [f for f in pf if not (f[0] == 10 and [9, f[2]] in [[op, body.decode("latin-1")] for op, body in sent])]
    ends = [["websocket.disconnect", 1006]]
    if frames and frames[-1][0] == "close" and (frames[-1][1] == failure(item) or frames[-1][1:] in client_closes(sent)):
        ends.append(["websocket.disconnect", frames.pop()[1] or 1005])  # (a failing close, or the client's echoed)
    extra = ps[len(us):]
    if extra[-1:] and extra[-1] in ends:
        extra = extra[:-1]
    if any(m[0] != "websocket.receive" for m in extra) or len(extra) > messages:
        return False
    sends, end = app_sends(item, ps)
    log = p_record.get("log")
    if log == [["raised", "ClientDisconnected"]]:  # a send raised (the dump's, or the last message's echo)
        if len(frames) != sum(m[0] == "websocket.receive" for m in ps) or len(frames) >= len(sends) - (end != ["returned"]):
            return False  # (the 1011 is prefork's, after a raise)
        sends = sends[:len(frames)]
    elif log != end:
        return False
    if len(frames) != len(sends) or frames and frames[0][0] != 1 or frames[1:] != sends[1:]:
        return False
    if u:
        p[1]["frames"] = uf
    else:
        pre["answers"] = []
    pre["closed"] = True
    p_record["seen"], p_record["log"] = u_record["seen"], u_record["log"]
    return True


def failure(item):
    """The code the client's frames fail the connection with on prefork (RFC 6455 7.4.1:
    1002, 1007 for text that is not UTF-8 or a compressed message that does not inflate
    (wsproto's code; the websockets library sends 1002 for that), 1009 past
    ws_max_size), None if they do not."""
    deflate = agreed_deflate(item)
    message = None  # (the fragments of a message begun)
    for opcode, payload, first, masked in message_frames(item):
        rsv = first & (0x30 if deflate else 0x70)
        if rsv or not masked or opcode in (3, 4, 5, 6, 7) or opcode > 10 or opcode >= 8 and (len(payload) > 125 or not first & 0x80):
            return 1002
        if opcode == 8:
            return None if len(payload) == 0 or len(payload) > 1 and valid_code(payload) and utf8(payload[2:]) else \
                1002 if len(payload) == 1 or not valid_code(payload) else 1007
        if opcode in (1, 2) and message is not None or opcode == 0 and message is None:
            return 1002
        if payload is None:  # (a compressed message that does not inflate)
            return 1007
        if opcode in (0, 1, 2):
            message = (message or [opcode]) + [payload]
            if sum(map(len, message[1:])) > WS_MAX:
                return 1009
            if message[0] == 1 and not utf8(b"".join(message[1:]), final=bool(first & 0x80)):
                return 1007  # (read as it arrives: a bad start fails before the message ends)
            if first & 0x80:
                message = None
    return None


def agreed_deflate(item):
    """Whether the servers take permessage-deflate for the handshake: one of its offers is
    permessage-deflate, but for the generator's offer both decline (a server window of
    2**8, which zlib cannot compress with)."""
    field = request_field(item, b"Sec-WebSocket-Extensions") or b""
    return any(offer.split(b";")[0].strip() == b"permessage-deflate" and b"server_max_window_bits=8" not in offer
               for offer in field.split(b","))


def message_frames(item):
    """``raw_frames`` of the client's frames after the handshake, with the payloads of a
    compressed message (RSV1 on its first frame, permessage-deflate agreed) inflated as
    a server inflates them, one context for the session (RFC 7692 7.2.2); a continuation
    after a message's final frame begins none, so is not inflated. A payload that does
    not inflate is given as None, and ends the frames."""
    data = b"".join(item["steps"]).partition(b"\r\n\r\n")[2]
    inflater = zlib.decompressobj(-15) if agreed_deflate(item) else None
    compressed = False  # (a message's first frame sets it, its final frame ends it)
    for opcode, payload, first, masked in raw_frames(data):
        if inflater is not None and opcode in (0, 1, 2):
            compressed = bool(first & 0x40) if opcode else compressed
            if compressed:
                try:
                    payload = inflater.decompress(payload + (b"\0\0\xff\xff" if first & 0x80 else b""))
                except zlib.error:
                    yield opcode, None, first, masked  # (no stream: the session ends at it)
                    return
            compressed = compressed and not first & 0x80
        yield opcode, payload, first, masked


def raw_frames(data):
    """Each frame's opcode, unmasked payload, first byte and whether it was masked."""
    while len(data) >= 2:
        size, at = data[1] & 0x7F, 2
        if size == 126:
            size, at = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            size, at = struct.unpack("!Q", data[2:10])[0], 10
        key, at = (data[at:at + 4], at + 4) if data[1] & 0x80 else (b"\0\0\0\0", at)
        yield data[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data[at:at + size])), data[0], bool(data[1] & 0x80)
        data = data[at + size:]


def client_closes(sent):
    """The close frames the client sent, as the driver shows a server's echo of each."""
    return [[struct.unpack("!H", body[:2])[0], body[2:].decode("latin-1")] if len(body) >= 2 else [None, ""]
            for opcode, body in sent if opcode == 8]


def app_sends(item, seen):
    """What tests/apps/fuzz_asgi.py's WebSocket app sends after accepting, given the
    messages it saw, and how it ends: the scope's dump (None here: compared elsewhere),
    then each message's echo, until its close 4001 (mode close-after, a "close" text) or
    its raise (mode raise-after: prefork closes with 1011, docs/asgi.md)."""
    sends, mode = [None], ws_mode(item)
    for message in seen:
        if message[0] != "websocket.receive":
            continue
        if mode == "raise-after":
            return sends + [["close", 1011, ""]], [["raised", "ValueError"]]
        if mode == "close-after" or message[1] == "close":
            return sends + [["close", 4001, "bye"]], ["returned"]
        text, data = message[1], message[2]
        sends.append([1, True, text.encode("utf-8").decode("latin-1")] if text is not None else
                     [2, True, bytes.fromhex(data).decode("latin-1")])
    return sends, ["returned"]


def websockets_bad_close_frame(item, pre, uvi):
    # the client's close frame has both a code that may not be sent (RFC 6455 7.4: 1005,
    # 1006, 999, 2000...) and a reason that is not UTF-8: wsproto checks the code first
    # (1002), the websockets library the reason (1007); each fails the connection
    if not on_websockets(item) or not any(op == 8 and len(body) > 2 and not valid_code(body) and not utf8(body[2:])
                                          for op, body in client_frames(item)):
        return False
    pf, uf = ((side["answers"][1:2] or [{}])[0].get("frames") or [] for side in (pre, uvi))
    if not pf or not uf or pf[-1][:2] != ["close", 1002] or uf[-1][:2] != ["close", 1007]:
        return False
    uf[-1][1] = 1002  # (websockets_failing_close, next, compares the rest as for any failure)
    return True


def valid_code(body):
    code = struct.unpack("!H", body[:2])[0]
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def utf8(data, final=True):
    """Whether ``data`` is UTF-8 (with ``final`` false: the start of some)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final)
    except UnicodeDecodeError:
        return False
    return True


def websockets_version_refusal(item, pre, uvi):
    # RFC 6455 4.2.2: a Sec-WebSocket-Version the server does not speak gets 426 with
    # Sec-WebSocket-Version: 13 (docs/asgi.md); the websockets library answers 400 with
    # its own text (and checks the key first, so a bad key as well is named instead)
    # (with the Content-Type of its other refusals: text/plain). The rest of the two
    # answers (Date, Connection: close, the framing) is compared.
    version = request_field(item, b"Sec-WebSocket-Version")
    p, u = pre["answers"], uvi["answers"]
    if not on_websockets(item) or version in (None, b"13") or len(p) != 1 or len(u) != 1:
        return False
    if p[0].get("status") != 426 or not documented_refusal(p[0]) or u[0].get("status") != 400 or not websockets_refused(u[0]):
        return False
    as_theirs(p[0], u[0], ("content-length", "content-type", "sec-websocket-version"), status=True)
    return True


def websockets_close_before_accept(item, pre, uvi):
    # docs/asgi.md: websocket.close before accepting answers 403 with Content-Type
    # text/plain; charset=utf-8; uvicorn on websockets sends text/plain (its library's
    # default for a rejection); the rest of the response is compared
    p, u = pre["answers"], uvi["answers"]
    if not on_websockets(item) or len(p) != 1 or len(u) != 1 or p[0].get("status") != 403 or u[0].get("status") != 403:
        return False
    if p[0].get("body") != "" or headers_of(p[0]).get("content-type") != "text/plain; charset=utf-8" or \
            headers_of(u[0]).get("content-type") != "text/plain":
        return False
    u[0]["headers"] = sorted([h for h in u[0]["headers"] if h[0] != "content-type"] + [["content-type", "text/plain; charset=utf-8"]])
    return True


def websockets_denial_buffered(item, pre, uvi):
    # the denial response (websocket.http.response.*): uvicorn on websockets gathers the
    # app's body and its library writes it with Content-Length, adding Content-Type:
    # text/plain where the app gave none; prefork sends the head with the first body
    # message and frames a body without the app's Content-Length chunked (docs/asgi.md).
    # Status, reason, the app's headers and the body are still compared.
    p, u = pre["answers"], uvi["answers"]
    if not on_websockets(item) or len(p) != 1 or len(u) != 1 or p[0].get("status") != u[0].get("status"):
        return False
    ph, uh = headers_of(p[0]), headers_of(u[0])
    if p[0].get("framing") != "chunked" or p[0].get("trailers") != [] or ph.get("transfer-encoding") != "chunked" or \
            "content-length" in ph or "content-type" in ph:
        return False
    if u[0].get("framing") != "length" or uh.get("content-length") != str(len(u[0].get("body", "").encode("latin-1"))) or \
            uh.get("content-type") != "text/plain" or "transfer-encoding" in uh:
        return False
    drop_fields(p[0], "transfer-encoding")
    drop_fields(u[0], "content-length", "content-type")
    p[0]["framing"] = "length"
    del p[0]["trailers"]
    return True


def websockets_500(item, pre, uvi):
    # an app that raises or returns before accepting: uvicorn on websockets writes its
    # 500 by hand, without Date, and its library then goes on with the handshake and
    # writes a 101 after it (the 500 does not stop it); prefork's 500 is the whole
    # response (docs/asgi.md). Only an app that ended before accepting, on both.
    p, u = pre["answers"], uvi["answers"]
    if not on_websockets(item) or len(p) != 1 or p[0].get("status") != 500 or not u or u[0].get("status") != 500:
        return False
    if len(u) > 2 or len(u) == 2 and u[1].get("status") != 101:
        return False
    if "date" not in headers_of(p[0]) or "date" in headers_of(u[0]) or p[0].get("body") != u[0].get("body"):
        return False
    for side in (pre, uvi):
        if not side["app"] or any(r.get("seen") != [["websocket.connect"]] for r in side["app"]):
            return False
    drop_fields(p[0], "date")
    uvi["answers"] = u[:1]
    return True


def websockets_failing_close(item, pre, uvi):
    # a client's frames fail the connection (RFC 6455 7.1.7: 1002, 1007, 1009): prefork's
    # close frame carries wsproto's reason and the app's websocket.disconnect the code
    # sent (as uvicorn's wsproto implementation gives 1009); the websockets library sends
    # no reason, and as the client does not echo the close its app gets 1006 (RFC 6455
    # 7.1.5: no close frame was received). The code on the wire is still compared.
    p, u = pre["answers"][1:2], uvi["answers"][1:2]
    if not on_websockets(item) or not p or not u:
        return False
    pf, uf = p[0].get("frames") or [], u[0].get("frames") or []
    if not pf or not uf or pf[-1][0] != "close" or pf[-1][1] not in FAILURES or uf[-1] != ["close", pf[-1][1], ""] or pf[:-1] != uf[:-1]:
        return False
    code = pf[-1][1]
    pf[-1] = uf[-1]
    for p_record, u_record in zip(pre["app"], uvi["app"]):
        ps, us = p_record.get("seen") or [], u_record.get("seen") or []
        if ps and us and ps[:-1] == us[:-1] and ps[-1] == ["websocket.disconnect", code] and us[-1] == ["websocket.disconnect", 1006]:
            us[-1] = ["websocket.disconnect", code]
    return True


def websockets_close_after_client_close(item, pre, uvi):
    # the client's close frame arrives while the app is about to send websocket.close:
    # prefork's send raises ClientDisconnected (spec 2.4: send on a closed connection
    # raises an OSError), uvicorn on websockets returns (its library's close() does
    # nothing once the connection is closing). Only where the app's next send is that
    # close (mode close-after, or a "close" text), the client sent a close frame, and
    # neither server sent the app's 4001.
    if not on_websockets(item) or not any(opcode == 8 for opcode, _ in client_frames(item)):
        return False
    for side in (pre, uvi):
        frames = (side["answers"][1:2] or [{}])[0].get("frames") or []
        if any(f[0] == "close" and f[1] == 4001 for f in frames):
            return False
    hit = False
    for p_record, u_record in zip(pre["app"], uvi["app"]):
        seen = p_record.get("seen") or []
        if seen != u_record.get("seen") or len(seen) < 2 or seen[-1][0] != "websocket.receive":
            continue
        if ws_mode(item) != "close-after" and seen[-1][1] != "close":
            continue
        if p_record.get("log") == [["raised", "ClientDisconnected"]] and u_record.get("log") == ["returned"]:
            u_record["log"] = p_record["log"]
            hit = True
    return hit


def websockets_deflate_window_bits(item, pre, uvi):
    # RFC 7692 7.1.2.2: to a client_max_window_bits offered without a value the server
    # may answer the parameter or leave it out; prefork (wsproto) answers
    # client_max_window_bits=15, the websockets library leaves it out (both inflate alike)
    if not on_websockets(item) or request_field(item, b"Sec-WebSocket-Extensions") != b"permessage-deflate; client_max_window_bits":
        return False
    p, u = pre["answers"][:1], uvi["answers"][:1]
    if not p or not u or p[0].get("status") != 101 or u[0].get("status") != 101:
        return False
    if headers_of(p[0]).get("sec-websocket-extensions") != "permessage-deflate; client_max_window_bits=15" or \
            headers_of(u[0]).get("sec-websocket-extensions") != "permessage-deflate":
        return False
    p[0]["headers"] = [["sec-websocket-extensions", "permessage-deflate"] if h[0] == "sec-websocket-extensions" else h
                       for h in p[0]["headers"]]
    return True


def websockets_deflate_parameter_order(item, pre, uvi):
    # the same permessage-deflate parameters agreed, in another order (RFC 7692 and RFC
    # 6455 9.1 give the order no meaning): prefork (wsproto) names client_no_context_takeover
    # first, the websockets library server_no_context_takeover
    if not on_websockets(item):
        return False
    p, u = pre["answers"][:1], uvi["answers"][:1]
    if not p or not u or p[0].get("status") != 101 or u[0].get("status") != 101:
        return False
    ours, theirs = (headers_of(a[0]).get("sec-websocket-extensions") for a in (p, u))
    if ours is None or theirs is None or ours == theirs:
        return False
    params = [[param.strip() for param in value.split(";")] for value in (ours, theirs)]
    if params[0][0] != params[1][0] or sorted(params[0]) != sorted(params[1]):
        return False
    p[0]["headers"] = [["sec-websocket-extensions", theirs] if h[0] == "sec-websocket-extensions" else h
                       for h in p[0]["headers"]]
    return True


# applied before every other rule
KNOWN_WEBSOCKETS_FIRST = [websockets_half_close]
# applied after tests/fuzz_asgi_uvicorn_known_ws.py's KNOWN_WS
KNOWN_WEBSOCKETS = [
    websockets_version_refusal, websockets_close_before_accept, websockets_denial_buffered, websockets_500,
    websockets_bad_close_frame, websockets_failing_close, websockets_close_after_client_close, websockets_deflate_window_bits,
    websockets_deflate_parameter_order,
]
