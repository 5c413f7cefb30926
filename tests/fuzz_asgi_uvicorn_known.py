"""The known differences of the ASGI fuzz against uvicorn (tests/test_fuzz_asgi_uvicorn.py)
on HTTP: ``KNOWN_HTTP``, its rules in the order they are applied, each with its reason,
and the helpers the rules of both tables share (``dumps_in`` and the rest). A rule takes
the input and both outcomes (``answers``, ``closed``, ``app``), edits them only where its
exact condition holds, and says whether it did. The WebSocket rules:
tests/fuzz_asgi_uvicorn_known_ws.py.
"""

import json
import re


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


def http10_close_and_keep_alive(item, pre, uvi):
    # an HTTP/1.0 request saying both 'close' and 'keep-alive' (in one Connection field or
    # several): prefork keeps the connection (llhttp's rule, as Node's http.Server),
    # uvicorn closes it (RFC 9112 9.3: close wins); the WSGI fuzz knows it of gunicorn
    def both(record):
        scope = record.get("scope") or {}
        tokens = {t.strip().lower() for k, v in scope.get("headers", ()) if k == "connection" for t in v.split(",")}
        return scope.get("http_version") == "1.0" and {"close", "keep-alive"} <= tokens
    if not any(both(record) for record in pre["app"]):
        return False
    for i, (p, u) in enumerate(zip(pre["answers"], uvi["answers"])):
        if ["connection", "keep-alive"] in p.get("headers", ()) and ["connection", "close"] in u.get("headers", ()) \
                and uvi["closed"] and len(uvi["answers"]) == i + 1:
            drop_fields(p, "connection", "keep-alive")
            drop_fields(u, "connection")
            cut_to(pre, uvi)
            return True
    return False


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
    # ones in the same read; and two Host fields, which the ASGI interface refuses as RFC
    # 9112 3.2 asks and uvicorn serves) as Node does (docs/node-compat.md, docs/parser-notes.md):
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
    # (or before sending the head at all): that app's sends went to a closed connection
    # and were dropped unchecked, so what they raised on prefork is not compared either
    if uvi["closed"] and (hit or uvi["answers"] and uvi["answers"][-1].get("status") in (204, 304)) and \
            (len(pre["answers"]) > len(uvi["answers"]) or not pre["closed"]) and {"s204", "s304"} & set(modes(item)):
        cut_to(pre, uvi)
        answered = sum(1 for answer in uvi["answers"] if not 100 <= answer.get("status", 200) < 200)
        for side in (pre, uvi):
            for record in side["app"][answered:]:
                record.pop("log", None)
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
    # uvicorn sends the 103 as the response, its body after it (or, on a connection it
    # has closed already, say after the client's half-close, drops them: its app's sends
    # return and nothing is answered).
    if "s103" not in modes(item):
        return False
    raised = [["send raised", "http.response.body", "RuntimeError"], ["raised", "RuntimeError"]]
    for i, p in enumerate(pre["answers"]):
        u = uvi["answers"][i] if i < len(uvi["answers"]) else None
        if p.get("status") != 500 or (u.get("status") != 103 if u is not None else not uvi["closed"]):
            continue
        n = min(len(pre["app"]), len(uvi["app"]))
        for k, (pr, ur) in enumerate(zip(pre["app"], uvi["app"])):
            if route(ur).startswith("/m/s103/") and pr.get("log") == raised and \
                    (u is not None or ur.get("log") == ["returned"]):
                ur["log"] = pr["log"]
                n = k + 1  # what follows on a connection the 103 broke is not compared
                break
        else:
            if u is None:  # (no app call of uvicorn's whose answer was dropped: not this case)
                continue
        uvi["answers"], uvi["closed"] = pre["answers"], pre["closed"]
        pre["app"], uvi["app"] = pre["app"][:n], uvi["app"][:n]
        return True
    return False


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


# the HTTP rules of KNOWN, in the order they are applied (http10_streamed_close before
# h2c_body_dropped, which would take uvicorn's close after an HTTP/1.0 answer for its own)
KNOWN_HTTP = [
    uvicorn_trailers_in_headers, http10_no_continue, http10_close_and_keep_alive, node_keep_alive, whole_body_length, http10_close_delimited, unknown_reason, server_400,
    no_body_status, close_after_error, head_with_first_body, interim_start, early_answer, http10_streamed_close,
    h2c_body_dropped, pipelined_after_cut, half_close_answered,
]
