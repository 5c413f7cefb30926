"""Differential fuzz of the ASGI interface, prefork against uvicorn, on generated request
streams over loopback (the app, the generator and the driver: tests/fuzz_asgi_uvicorn.py),
and ``KNOWN``: the differences that are uvicorn's or prefork's documented choices, each a
rule that edits both outcomes only where its exact condition holds, with its reason. What
no rule explains is a finding. The outcomes' shapes: ``answers`` (each response parsed:
status, reason, headers with Date masked, framing, body; for a WebSocket the 101 and the
server's frames), ``closed``, ``app`` (one record per app call: its scope, the messages it
received, what its sends raised).

CI runs a seeded batch of 1000 inputs (about 15 s); a long campaign:

    python tests/test_fuzz_asgi_uvicorn.py --inputs 5000 --seed 1 [--ws websockets]
"""

import argparse
import asyncio
import copy
import re
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_asgi_uvicorn import Peer, inputs, outcome  # noqa: E402

pytest.importorskip("uvicorn")
pytest.importorskip("httptools")
CI_INPUTS = 1000


def dumps_in(side):
    """Every scope dump in an outcome: the app's records, and the JSON bodies and text
    frames (made dicts here, so rules may edit them)."""
    for record in side["app"]:
        if "scope" in record:
            yield record["scope"]
    for answer in side["answers"]:
        for i, frame in enumerate(answer.get("frames") or ()):
            if frame[0] == 1 and (parsed := as_dump(frame[2])):
                frame[2] = parsed
                yield parsed
        if parsed := as_dump(answer.get("body")):
            if answer["body"] is not parsed:  # a whole dump: its length is the declared one
                answer["headers"] = [[k, "<dump>" if k == "content-length" else v] for k, v in answer["headers"]]
            answer["body"] = parsed
            yield parsed


def as_dump(text):
    if isinstance(text, dict) or not isinstance(text, str):
        return text if isinstance(text, dict) else None
    try:
        value = json.loads(text) if text.startswith('{"type"') else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def headers_of(answer):
    return dict(answer.get("headers", ()))


def is_answer(answer):
    return "status" in answer


def drop_fields(answer, *names):
    answer["headers"] = [h for h in answer["headers"] if h[0] not in names]


def modes(item):
    return [m.decode() for m in re.findall(rb"/m/([a-z0-9-]+)/", b"".join(item["steps"]))]


def route(record):
    """The path of an app record's scope without its root_path (the app's route)."""
    scope = record.get("scope") or {}
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def cut_to(longer, shorter):
    """Where one server stopped early (it closed the connection): the other's answers and
    app records past that point are left out; what both answered is still compared."""
    n = len(shorter["answers"])
    longer["answers"] = longer["answers"][:n]
    longer["app"] = longer["app"][:len(shorter["app"])]
    longer["closed"] = shorter["closed"]


def node_keep_alive(item, pre, uvi):
    # prefork's server writes Node's Connection: keep-alive and Keep-Alive: timeout=5 on
    # every kept-alive response (docs/node-compat.md); uvicorn leaves HTTP/1.1's default
    # unsaid. Whether the connection stayed open is still compared (``closed``).
    hit = False
    for side in (pre, uvi):
        for answer in filter(is_answer, side["answers"]):
            if ["connection", "keep-alive"] in answer["headers"] or "keep-alive" in headers_of(answer):
                hit = True
                answer["headers"] = [h for h in answer["headers"] if h != ["connection", "keep-alive"] and h[0] != "keep-alive"]
    return hit


def whole_body_length(item, pre, uvi):
    # docs/asgi.md: a response sent as one body message gets Content-Length from prefork;
    # uvicorn chunks it. The bodies are still compared.
    hit = False
    for p, u in zip(pre["answers"], uvi["answers"]):
        if p.get("framing") == "length" and u.get("framing") == "chunked" and p.get("body") == u.get("body") \
                and u.get("trailers") == [] and "content-length" not in headers_of(u):
            drop_fields(p, "content-length")
            drop_fields(u, "transfer-encoding")
            p["framing"] = u["framing"] = "whole"
            u.pop("trailers")
            hit = True
    return hit


def http10_close_delimited(item, pre, uvi):
    # docs/asgi.md: a streamed response to an HTTP/1.0 client is delimited by the close
    # (HTTP/1.0 has no chunked coding); uvicorn sends chunked to it.
    hit = False
    for p, u in zip(pre["answers"], uvi["answers"]):
        if p.get("framing") == "close" and u.get("framing", "").startswith("chunked") and \
                p.get("body") is not None and "connection" in headers_of(p):
            drop_fields(u, "transfer-encoding")
            u["framing"] = "close" if u["framing"] == "chunked" else "close, cut"
            p["framing"] = u["framing"]
            u.pop("trailers", None)
            hit = True
    return hit


def unknown_reason(item, pre, uvi):
    # a status with no registered phrase (599): prefork says "unknown" as Node does,
    # uvicorn sends an empty reason phrase; the phrase means nothing to clients
    hit = False
    for p, u in zip(pre["answers"], uvi["answers"]):
        if p.get("reason") == "unknown" and u.get("reason") == "":
            p["reason"] = ""
            hit = True
    return hit


def server_400(item, pre, uvi):
    # prefork's server answers a request its HTTP layer refuses (missing Host on
    # HTTP/1.1, two Content-Lengths, obs-fold, a malformed request pipelined behind good
    # ones in the same read) as Node does (docs/node-compat.md, docs/parser-notes.md):
    # 400 without a body, Connection: close, the responses not yet written dropped.
    # uvicorn refuses fewer requests, with its own 400 ("Invalid HTTP request received.",
    # the responses not yet written dropped too). Both are outside the ASGI layer; the
    # app never answers 400 here, so a 400 is a server's. What both answered before it,
    # and the scopes of the requests both took to the app, are still compared.
    def refused(answer):
        return answer.get("status") == 400 and ("content-type" not in headers_of(answer) or
                                                headers_of(answer).get("content-length") == "30")
    def first(answers):
        return next((i for i, answer in enumerate(answers) if refused(answer)), None)
    p, u = first(pre["answers"]), first(uvi["answers"])
    if p is None and u is None:
        return False
    n = min(len(pre["answers"]) if p is None else p, len(uvi["answers"]) if u is None else u)
    pre["answers"], uvi["answers"] = pre["answers"][:n], uvi["answers"][:n]
    calls = min(len(pre["app"]), len(uvi["app"]))  # the requests both servers took to the app
    pre["app"], uvi["app"] = pre["app"][:calls], uvi["app"][:calls]
    uvi["closed"] = pre["closed"]
    final = sum(1 for answer in pre["answers"] if not 100 <= answer.get("status", 200) < 200)
    for side in (pre, uvi):  # a request answered by the 400 instead: its scope is still compared
        for record in side["app"][final:]:
            record.pop("log", None)
            record.pop("seen", None)
    return True


def no_body_status(item, pre, uvi):
    # a body sent with 204 or 304: uvicorn raises RuntimeError in the app and closes the
    # connection; prefork drops the body and keeps the connection, as Node ignores
    # writes for these statuses (RFC 9110 15.3.5, 15.4.5: they have no content)
    hit = False
    for record in uvi["app"]:
        if route(record).startswith(("/m/s204/", "/m/s304/")) and \
                record.get("log") == [["send raised", "http.response.body", "RuntimeError"], ["raised", "RuntimeError"]]:
            record["log"] = ["returned"]
            hit = True
    # uvicorn also closes after a HEAD answered 304 with a body, though the app returned
    # normally, leaving unanswered a request pipelined behind it that its app answered
    # (or before sending the head at all)
    if uvi["closed"] and (hit or uvi["answers"] and uvi["answers"][-1].get("status") in (204, 304)) and \
            (len(pre["answers"]) > len(uvi["answers"]) or not pre["closed"]) and {"s204", "s304"} & set(modes(item)):
        cut_to(pre, uvi)
        hit = True
    return hit


def close_after_error(item, pre, uvi):
    # an app that raises after its response is complete (a body sent after the last
    # one): uvicorn closes the connection, prefork keeps it (the response went out whole
    # and framed). The app sees the same RuntimeError on both; what follows on the
    # connection (answered by prefork, cut by uvicorn) is left out.
    after = [i for i, r in enumerate(uvi["app"]) if r.get("log", [None])[-1] == ["raised", "RuntimeError"]
             and route(r).startswith("/m/after/")]
    if not (after and uvi["closed"] and (not pre["closed"] or len(pre["answers"]) > len(uvi["answers"]))):
        return False
    cut_to(pre, uvi)
    calls = after[0] + 1
    pre["app"], uvi["app"] = pre["app"][:calls], uvi["app"][:calls]
    return True


def head_with_first_body(item, pre, uvi):
    # docs/asgi.md: prefork sends the head with the first body message, so an app that
    # fails between the start and its body (raises, returns, or sends a body that
    # disagrees with its Content-Length) gets a clean 500; uvicorn has sent the head at
    # the start and cuts the connection there
    hit = False
    for i, (p, u) in enumerate(zip(pre["answers"], uvi["answers"])):
        if p.get("status") == 500 and u.get("status") == 200 and (u.get("framing", "").endswith("cut") or
                                                                  u.get("body", "") == "") and pre["closed"]:
            if {"return-start", "raise-after", "cl-long", "cl-short", "head-cl"} & set(modes(item)):
                uvi["answers"][i] = p
                hit = True
    return hit


def interim_start(item, pre, uvi):
    # docs/asgi.md: a 1xx status in http.response.start raises in the app (prefork's
    # answer is a 500): the client would take the next response for this request's.
    # uvicorn sends the 103 as the response, its body after it.
    hit = False
    for i, (p, u) in enumerate(zip(pre["answers"], uvi["answers"])):
        if "s103" in modes(item) and p.get("status") == 500 and u.get("status") == 103:
            uvi["answers"], uvi["closed"] = pre["answers"], pre["closed"]
            n = min(len(pre["app"]), len(uvi["app"]))
            for k, (pr, ur) in enumerate(zip(pre["app"], uvi["app"])):
                if route(ur).startswith("/m/s103/") and \
                        pr.get("log") == [["send raised", "http.response.body", "RuntimeError"], ["raised", "RuntimeError"]]:
                    ur["log"] = pr["log"]
                    n = k + 1  # what follows on a connection the 103 broke is not compared
                    break
            pre["app"], uvi["app"] = pre["app"][:n], uvi["app"][:n]
            hit = True
            break
    return hit


def h2c_body_dropped(item, pre, uvi):
    # uvicorn (httptools) serves a request with a non-WebSocket Upgrade (h2c) but drops
    # the bytes after its head: the app gets no body, and a request pipelined behind it
    # is never answered. prefork serves it whole, as RFC 9110 7.8 asks of a server that
    # ignores the upgrade.
    if b"Upgrade: h2c" not in b"".join(item["steps"]):
        return False
    hit = False
    for p, u in zip(pre["app"], uvi["app"]):
        if "scope" in p and ["upgrade", "h2c"] in p["scope"]["headers"] and \
                (u.get("seen") or [None])[0] == ["http.request", "", False] and \
                (p.get("seen") or [[None]])[0][0] == "http.request":
            u["seen"] = p["seen"][:1] + u["seen"][1:]
            hit = True
    garbage = [i for i, a in enumerate(uvi["answers"]) if a.get("body") == "Invalid HTTP request received."]
    if len(uvi["answers"]) != len(pre["answers"]) or garbage:  # uvicorn reads the bytes left as a new request
        n = min(len(uvi["answers"]), len(pre["answers"]), *garbage)
        pre["answers"], uvi["answers"] = pre["answers"][:n], uvi["answers"][:n]
        calls = min(len(pre["app"]), len(uvi["app"]))
        pre["app"], uvi["app"] = pre["app"][:calls], uvi["app"][:calls]
        uvi["closed"] = pre["closed"]
        hit = True
    return hit


def early_answer(item, pre, uvi):
    # docs/asgi.md: an app that answers a 100-continue request without reading its body
    # gets its response sent with Connection: close and the connection closed; uvicorn
    # keeps it open. An app that answers any other request without reading its body:
    # prefork drops the rest of the body as it comes and serves the next request,
    # uvicorn closes the connection after the response.
    if "early" not in modes(item):
        return False
    hit = False
    for i, (p, u) in enumerate(zip(pre["answers"], uvi["answers"])):
        if ["connection", "close"] in p.get("headers", ()) and "connection" not in headers_of(u) and \
                b"Expect: 100-continue" in b"".join(item["steps"]) and len(pre["answers"]) == i + 1:
            drop_fields(p, "connection")
            cut_to(uvi, pre)
            hit = True
    if uvi["closed"] and len(uvi["answers"]) < len(pre["answers"]) and pre["answers"][:len(uvi["answers"])] == uvi["answers"]:
        cut_to(pre, uvi)
        hit = True
    return hit


def half_close_answered(item, pre, uvi):
    # a client that half-closes (its FIN after its requests): prefork answers the
    # requests it has read, as Node does (docs/asgi.md); uvicorn takes the FIN for a
    # disconnect and sends no response not yet written (its apps run, their sends are
    # dropped)
    p, u = pre["answers"], uvi["answers"]
    if not item["half_close"] or not uvi["closed"] or len(u) >= len(p) or p[:len(u)] != u:
        return False
    pre["answers"] = p[:len(u)]
    pre["closed"] = True
    answered = sum(1 for answer in u if not 100 <= answer.get("status", 200) < 200)
    for side in (pre, uvi):  # the sends of an app uvicorn no longer answered for were dropped unchecked
        for record in side["app"][answered:]:
            record.pop("log", None)
    n = len(uvi["app"])  # a request read with the FIN may not reach uvicorn's app at all
    if len(pre["app"]) > n and pre["app"][:n] == uvi["app"]:
        pre["app"] = pre["app"][:n]
    return True


def http10_streamed_close(item, pre, uvi):
    # an HTTP/1.0 client asking for keep-alive, answered in several body messages with
    # the app's Content-Length: uvicorn says Connection: close and closes; prefork keeps
    # the connection, as Node does (the length frames the body)
    hit = False
    for i, (p, u) in enumerate(zip(pre["answers"], uvi["answers"])):
        if u.get("framing") in ("length", "none") and p.get("framing") == u["framing"] and ["connection", "close"] in u["headers"] \
                and p.get("version") == u.get("version") and "connection" not in headers_of(p) and uvi["closed"] \
                and len(uvi["answers"]) == i + 1 and b"HTTP/1.0\r\n" in b"".join(item["steps"]):
            drop_fields(u, "connection")
            cut_to(pre, uvi)
            hit = True
    return hit




def uvicorn_trailers_in_headers(item, pre, uvi):
    # uvicorn (httptools) appends a chunked body's trailer fields to the scope's
    # ``headers`` while the app runs; the spec's headers are the request head's, as
    # prefork gives them. (The generator's trailer names are x-t and x-u.)
    hit = False
    for dump in dumps_in(uvi):
        kept = [h for h in dump["headers"] if h[0] not in ("x-t", "x-u")]
        hit |= kept != dump["headers"]
        dump["headers"] = kept
    if hit:  # a HEAD's Content-Length is the length of the dump it did not send
        for side in (pre, uvi):
            for answer in side["answers"]:
                if answer.get("framing") == "none" and "content-length" in headers_of(answer):
                    answer["headers"] = [[k, "<dump>" if k == "content-length" else v] for k, v in answer["headers"]]
    return hit


def ws_frames_before_101(item, pre, uvi):
    # frames sent with the handshake, before the 101: RFC 6455 4.1 has the client wait
    # for the server's answer first, so what a server makes of them is its own choice.
    # prefork keeps them until the app accepts and then reads them (a ping is answered,
    # a message delivered, an error fails the connection); uvicorn's wsproto
    # implementation drops them and gives the app websocket.disconnect (1005). The
    # handshake's answer and the scope are still compared.
    head, _, early = item["steps"][0].partition(b"\r\n\r\n")
    if item["kind"] != "ws" or not early or not pre["answers"] or pre["answers"][0].get("status") != 101:
        return False
    for side in (pre, uvi):
        side["answers"] = side["answers"][:1]
        side["closed"] = None
        for record in side["app"]:
            record.pop("seen", None)
            record.pop("log", None)
    return True


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


def ws_refusal(item, pre, uvi):
    # docs/asgi.md: a refused handshake (400, 426) gets its reason phrase, Date,
    # Connection: close and the reason as a short text body; uvicorn (wsproto) sends an
    # empty reason phrase and body. A Sec-WebSocket-Key that is not base64 of 16 bytes
    # is refused by prefork (as the websockets library refuses it); wsproto accepts it.
    p, u = pre["answers"], uvi["answers"]
    if item["kind"] != "ws" or not p or p[0].get("status") not in (400, 426):
        return False
    key = next((line[19:] for line in item["steps"][0].split(b"\r\n") if line.startswith(b"Sec-WebSocket-Key: ")), b"")
    if p[0]["status"] == 400 and key and (len(key) != 24 or key == b"=" * 24):
        uvi["answers"], uvi["app"], uvi["closed"] = pre["answers"], pre["app"], pre["closed"]
        return True
    if u and u[0].get("status") == p[0]["status"]:
        uvi["answers"] = p
        return True
    return False


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
    # framing and the body are still compared.
    p, u = pre["answers"], uvi["answers"]
    if item["kind"] != "ws" or not p or not u or p[0].get("status") != 403 or u[0].get("status") != 403:
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




def http10_no_continue(item, pre, uvi):
    # uvicorn sends 100 Continue to an HTTP/1.0 request with Expect: 100-continue;
    # RFC 9110 10.1.1 says a server MUST ignore that expectation from HTTP/1.0, as prefork
    # does
    if b"HTTP/1.0\r\n" not in b"".join(item["steps"]) or b"Expect: 100-continue" not in b"".join(item["steps"]):
        return False
    hit, i, u = False, 0, uvi["answers"]
    while i < len(u):  # a 100 of uvicorn's where prefork's answers go on with a final one
        if u[i].get("status") == 100 and (i >= len(pre["answers"]) or pre["answers"][i].get("status") != 100):
            del u[i]
            hit = True
        else:
            i += 1
    return hit


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




def pipelined_after_cut(item, pre, uvi):
    # prefork's server emits each pipelined request as it is parsed (Node's http.Server
    # does; the responses go out in order), so the app runs for a request queued behind
    # one whose response is then cut (the app failed mid-body) and the connection
    # closes; uvicorn starts the next request's app only after the previous response.
    # The wire is the same; the extra calls are left out.
    n = len(uvi["app"])
    if not (pre["closed"] and uvi["closed"] and len(pre["app"]) > n and pre["app"][:n] == uvi["app"]
            and pre["answers"] == uvi["answers"]):
        return False
    pre["app"] = pre["app"][:n]
    return True


# the known differences, in the order they are applied; each edits both outcomes only
# where its exact condition holds and says whether it did
KNOWN = [
    # HTTP
    uvicorn_trailers_in_headers, http10_no_continue, node_keep_alive, whole_body_length, http10_close_delimited, unknown_reason, server_400,
    no_body_status, close_after_error, head_with_first_body, interim_start, h2c_body_dropped, early_answer, http10_streamed_close,
    pipelined_after_cut, half_close_answered,
    # WebSocket
    ws_date_on_101, wsproto_scope_headers, ws_refusal, ws_frames_before_101, ws_lost_code, ws_denial,
    ws_send_after_failure, ws_app_failed_close, ws_close_fin, ws_wsproto_answers, ws_failing_close,
]


def classify(item, pre, uvi):
    """None if equal; else the names of the KNOWN rules that make them equal, or False."""
    if pre == uvi:
        return None
    pre, uvi = copy.deepcopy(pre), copy.deepcopy(uvi)
    list(dumps_in(pre)), list(dumps_in(uvi))
    used = [rule.__name__ for rule in KNOWN if rule(item, pre, uvi)]
    return used if pre == uvi else False


async def run_async(seed, count, parallel=8, ws="wsproto", report=print, root_path=""):
    peers = [Peer("prefork", root_path=root_path), Peer("uvicorn", ws, root_path)]
    for peer in peers:
        peer.start()
    # same_app: inputs whose app records (scopes, messages, what sends raised) were equal
    # before any known difference was applied, so the comparison is not vacuous
    result = {"inputs": 0, "same": 0, "same_app": 0, "known": {}, "findings": [], "unstable": 0}
    try:
        gate = asyncio.Semaphore(parallel)

        async def one(item):
            item["uvicorn_ws"] = ws  # (the rules for uvicorn's WebSocket implementation read it)
            async with gate:
                pre, uvi = await asyncio.gather(*(outcome(peer, item) for peer in peers))
            verdict = classify(item, pre, uvi)
            if verdict is False:  # again, alone, to tell a timing effect from a finding
                async with lock:
                    pre, uvi = await asyncio.gather(*(outcome(peer, item, slow=True) for peer in peers))
                verdict = classify(item, pre, uvi)
                if verdict is False:
                    result["findings"].append((item, pre, uvi))
                    report(item, pre, uvi)
                    return
                result["unstable"] += 1
            result["inputs"] += 1
            result["same_app"] += bool(pre["app"]) and pre["app"] == uvi["app"]
            if verdict is None:
                result["same"] += 1
            for name in verdict or ():
                result["known"][name] = result["known"].get(name, 0) + 1
        lock = asyncio.Lock()
        await asyncio.gather(*(one(item) for item in inputs(seed, count)))
        result["alive"] = all(peer.alive() for peer in peers)
    finally:
        for peer in peers:
            peer.stop()
    return result


def run(seed, count, parallel=8, ws="wsproto", report=print, root_path=""):
    return asyncio.run(run_async(seed, count, parallel, ws, report, root_path))


def test_fuzz_matches_uvicorn():
    """A seeded batch: every input identical on both servers or a known difference."""
    findings = []
    result = run(1, CI_INPUTS, report=lambda *finding: findings.append(finding))
    for finding in findings[:3]:
        show(*finding)
    assert not findings, f"{len(findings)} inputs differ from uvicorn (shown above)"
    assert result["alive"]
    assert result["same_app"] > CI_INPUTS // 3  # the comparison is not vacuous


def test_fuzz_matches_uvicorn_with_root_path():
    """A smaller batch with root_path set on both (the scope's path and raw_path start with it)."""
    findings = []
    result = run(2, CI_INPUTS // 4, report=lambda *finding: findings.append(finding), root_path="/api")
    for finding in findings[:3]:
        show(*finding)
    assert not findings, f"{len(findings)} inputs differ from uvicorn (shown above)"
    assert result["alive"] and result["same_app"] > CI_INPUTS // 12


def show(item, pre, uvi):
    print("--- input", item["id"], json.dumps([s[:600].decode("latin-1") for s in item["steps"]]),
          "half-close" * item["half_close"])
    for key in ("answers", "closed", "app"):
        if pre[key] != uvi[key]:
            print("  ", key, "\n    prefork:", json.dumps(pre[key])[:1500], "\n    uvicorn:", json.dumps(uvi[key])[:1500])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--ws", default="wsproto", choices=["wsproto", "websockets"])
    parser.add_argument("--show", type=int, default=10)
    parser.add_argument("--root-path", default="", help="root_path for both servers")
    args = parser.parse_args()
    shown = [0]

    def report(*finding):
        if shown[0] < args.show:
            shown[0] += 1
            show(*finding)
    start = time.monotonic()
    result = run(args.seed, args.inputs, args.parallel, args.ws, report, args.root_path)
    print(f"{args.inputs} inputs (seed {args.seed}, uvicorn --ws {args.ws}) in {time.monotonic() - start:.1f} s: "
          f"{result['same']} identical ({result['same_app']} with the same app records), {len(result['findings'])} findings, {result['unstable']} unstable; "
          f"known: {result['known'] or 'none'}; servers alive: {result.get('alive')}")
    sys.exit(1 if result["findings"] or not result.get("alive") else 0)


if __name__ == "__main__":
    main()
