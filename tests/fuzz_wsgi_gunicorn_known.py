"""The known differences of the WSGI fuzz against gunicorn (tests/test_fuzz_wsgi_gunicorn.py):
``KNOWN``, the table of the differences that are gunicorn's or prefork's documented
choices, each with its reason, and the helpers of the classifier that applies it:
reading a request's head (``fields``, ``mode_of``), whether prefork's parser refuses a
later request of the stream (``parse_error_after``), the refusal only one server makes
(``refused_request``), and the masks that edit both sides' views where a rule's exact
condition holds (``mask_environ``, ``mask_response``, ``mask_connection``).
"""

import json
import re

from prefork.http.errors import ParseError
from prefork.http.parser import RequestParser
from prefork.server.leaving import continuation_head
from test_http_retained import Sink  # (a parser delegate that counts the messages it completes)


class HeadSink(Sink):
    """A Sink that keeps the last head it was given (method, target, version, raw fields)."""

    def on_headers(self, method, url, version, raw, *rest):
        self.head = (method, url, version, raw)

# The known differences. Each names what it excuses and why; each test of one (below, and
# in tests/test_fuzz_wsgi_gunicorn.py's ``_pair``) is narrow: it looks at the request that
# the response answers and at the exact fields that differ, and excuses nothing else in
# the outcome.
KNOWN = {
    # -- what the client reads --------------------------------------------------------------
    "sync closes": "gunicorn's sync worker says Connection: close and closes after every response "
                   "(it has no keep-alive); prefork keeps HTTP/1.1 connections alive. Under sync only the "
                   "first response and not the close are compared",
    "list length": "a list body (docs/wsgi.md: one send, its length), or a wsgi.file_wrapper of a regular file "
                   "(sendfile with its length), without the app's Content-Length goes out with one; gunicorn "
                   "chunks it (HTTP/1.1) or delimits it by the close (HTTP/1.0, so it closes where prefork can "
                   "keep the connection)",
    "HEAD length": "HEAD gets the Content-Length GET would have (docs/wsgi.md); gunicorn sends none when the "
                   "app gave none",
    "exc_info headers": "gunicorn keeps the first start_response's headers next to those given with exc_info; "
                        "PEP 3333 says the new ones replace them (prefork)",
    "str block": "a str body block: prefork answers 500, as the head waits for the first bytes block (PEP 3333: "
                 "the headers go out with the first non-empty block) and the str is none; gunicorn has sent "
                 "a 200 head already (or, for HEAD, sends it whole), then cuts the body",
    "empty reason": "a status with an empty reason ('200 ', '200') gets the standard reason (Node's default); gunicorn "
                    "sends the empty one. RFC 9112 4: clients ignore the reason",
    "304 length": "a 304's 'Content-Length: 0' is not sent (the body is not either); gunicorn sends it. "
                  "Django's CommonMiddleware gives its empty 304s that field, which RFC 9110 8.6 forbids (only "
                  "the 200's length may be sent) and which would tell a cache its stored body is empty; any "
                  "other length (the 200's) is sent by both",
    # -- the environ ------------------------------------------------------------------------
    "chunked CONTENT_LENGTH": "threads = 1 reads a chunked body whole first and sets CONTENT_LENGTH to its size "
                              "(docs/wsgi.md: Django reads CONTENT_LENGTH only); gunicorn leaves it out",
    "joined fields": "repeated request fields are joined as Node joins them (docs/wsgi.md): ', ' where gunicorn "
                     "writes ',', Cookie with '; ' (what cookie parsers split on), single-valued fields "
                     "(Content-Type, User-Agent, Referer, Authorization, Host) keep the first",
    "forwarder headers": "gunicorn keeps the 'SCRIPT_NAME' and 'PATH_INFO' fields (its forwarder_headers) of a "
                         "trusted peer, loopback by default, as HTTP_SCRIPT_NAME and HTTP_PATH_INFO, and takes "
                         "SCRIPT_NAME (cut off PATH_INFO) from the first (a 500 for a path outside it); prefork drops every name with '_' "
                         "(environ.py's rules) and takes the mount point from root_path only",
    "forwarded scheme": "from a trusted peer, prefork reads the scheme from the last X-Forwarded-Proto value, "
                        "any case ('HTTPS', 'http, https': https), as the ASGI side and uvicorn do, and reads "
                        "neither X-Forwarded-Ssl nor X-Forwarded-Protocol; gunicorn's secure_scheme_headers "
                        "want exactly 'X-Forwarded-Proto: https', 'X-Forwarded-Ssl: on' or "
                        "'X-Forwarded-Protocol: ssl' (docs/gunicorn.md)",
    "contradictory scheme fields": "gunicorn answers 400 when its scheme fields disagree ('X-Forwarded-Ssl: on' "
                                   "with 'X-Forwarded-Proto: http'); prefork takes X-Forwarded-Proto's last value",
    "empty path": "an absolute-form target without a path ('http://h:8080') is the path '/' (RFC 9110 4.2.3, "
                  "environ.py's rules); gunicorn gives PATH_INFO ''",
    # -- requests one refuses and the other serves --------------------------------------------
    "no Host": "HTTP/1.1 without Host: prefork answers 400 as RFC 9112 3.2 requires; gunicorn serves it",
    "asterisk-form": "'*' with a method other than OPTIONS: gunicorn answers 400 (RFC 9112 3.2.4 limits it to "
                     "OPTIONS); prefork's parser (llhttp, as Node) passes it and the app gets PATH_INFO '*'. "
                     "A change to prefork/http, not here (see docs/gunicorn.md)",
    "HTTP/1.0 Transfer-Encoding": "gunicorn answers 400 to an HTTP/1.0 request with Transfer-Encoding; prefork "
                                  "reads the chunked body and closes after the response (RFC 9112 6.1: treat "
                                  "the framing as faulty and close after processing it)",
    "repeated Content-Type": "gunicorn answers 400 to a repeated Content-Type; prefork keeps the first (Node's "
                             "rule for single-valued fields)",
    "refusal order": "a request both refuse, for an Expect other than 100-continue (417) and for something "
                     "else (400): which answer comes first is each server's order",
    "chunk extension whitespace": "'3; a=b': RFC 9112 7.1.1 allows whitespace (BWS) around a chunk "
                                  "extension's ';'; prefork's parser (llhttp's strict mode, as Node) answers "
                                  "400, gunicorn reads it. A change to prefork/http, not here",
    "repeated Expect": "'Expect: foo' and 'Expect: 100-continue' in one request: prefork sends the 100 when "
                       "100-continue is among the values (Node's test), gunicorn answers 417 for the one it does "
                       "not know (RFC 9110 10.1.1: MAY)",
    "100 before a body refused": "a request whose Transfer-Encoding does not end in chunked, or whose body "
                                 "prefork refuses (chunk extension whitespace): llhttp (as in Node) finishes "
                                 "the head before it refuses the framing, so prefork has sent the 100 its "
                                 "Expect asked for before its 400; gunicorn refuses the head. The app is not "
                                 "called",
    # -- whether the connection stays (gthread; sync closes every connection) -------------------
    "app's Connection: close": "an app's 'Connection: close' closes the connection after its response "
                               "(docs/wsgi.md: an app may close its connection); gunicorn drops the field as "
                               "hop-by-hop and keeps the connection",
    "short body": "a body shorter than its Content-Length closes the connection (docs/wsgi.md); gunicorn "
                  "keeps it, and its client reads the next response as the rest of this one",
    "close among tokens": "a request with 'close' in one Connection field and other tokens in another: gunicorn "
                          "reads one field and keeps the connection; prefork closes it (RFC 9112 9.6)",
    "HTTP/1.0 close and keep-alive": "an HTTP/1.0 request saying both 'close' and 'keep-alive': prefork keeps "
                                     "the connection (llhttp's rule, as Node), gunicorn closes it (RFC 9112 9.3: "
                                     "close wins). A change to prefork/http, not here",
    "Proxy-Connection": "an HTTP/1.0 request with 'Proxy-Connection: keep-alive': llhttp (as Node) reads it as "
                        "Connection and keeps the connection; gunicorn does not read it",
    "HTTP/1.0 without a body": "a 204, a 304 or a HEAD answer without Content-Length to an HTTP/1.0 keep-alive request: prefork closes (Node keeps an "
                               "HTTP/1.0 connection only for a response with a Content-Length), gunicorn keeps it",
    "no error reply behind a response": "a request refused while the response before it on the connection is "
                                        "still going out gets no 400, the connection closes (Node's rule, "
                                        "docs/node-compat.md); gunicorn answers 400",
    "417 keeps the connection": "after a 417 prefork reads on (Node's automatic 417); gunicorn closes",
    "parse error ends the connection": "requests pipelined before one prefork's parser refuses, in the same "
                                       "read, are not answered: the parse error is met before their calls run, "
                                       "and the connection ends with a 400 where the first unanswered one's "
                                       "response would be (Node's rule for a parse error while no head is "
                                       "out, server/); gunicorn answers them (and then 400, or closes first)",
    "HEAD iteration": "an answer to HEAD stops the iteration at the first block (docs/wsgi.md); gunicorn iterates "
                      "to the end, meets the app's error there and closes",
    "500 keeps the connection": "after the 500 for an app that raised, prefork serves on (docs/wsgi.md); gunicorn's "
                                "gthread worker closes (its sync worker closes after every response)",
    "HTTP/1.0 Connection: upgrade": "an HTTP/1.0 request whose Connection says 'upgrade' and 'keep-alive': "
                                    "gunicorn closes, prefork keeps the connection as keep-alive asks",
    "unknown transfer coding": "'Transfer-Encoding: gzip, chunked': both read the chunked framing and hand the "
                               "app the still-coded body; gunicorn then closes, prefork keeps the connection "
                               "(RFC 9112 6.1 says SHOULD answer 501: neither does; a change to prefork/http "
                               "or prefork/server, not here)",
    "HTTP/1.0 Expect": "an HTTP/1.0 request's Expect is ignored (RFC 9110 10.1.1 says so for 100-continue; "
                       "Node ignores it); gunicorn answers 417 to an Expect it does not know whatever the version",
}

SINGLE = {"content-type", "user-agent", "referer", "authorization", "host"}


def fields(head):
    """A request head's (method, target, version) and its fields as (lower-cased name, value)."""
    lines = head.split(b"\r\n")
    line = lines[0].split(b" ")
    out = []
    for text in lines[1:]:
        if text:
            name, _, value = text.partition(b":")
            out.append((name.lower().decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return line, out


def parse_error_after(case, i):
    """prefork's parser, fed the whole stream, fails on a message after the ``i``-th
    (it completes more than ``i`` messages first): a parse error that ends the
    connection with the requests before it unanswered (Node's rule)."""
    count, data = HeadSink(), b"".join(head + body for _, head, body, _ in case)
    try:
        while data:
            parser = RequestParser(count, 16384)
            parser.unique_host = True  # as the WSGI interface has it: two Host fields are a 400
            offset = parser.feed(data)
            if offset is None:
                return False
            data = data[offset:]
            if count.head[0] != "CONNECT":
                # an upgrade request, served as a plain one: a fresh parser reads its head
                # again without the Upgrade field, then what follows (server/leaving.py)
                data = continuation_head(*count.head) + data
                count.done -= 1  # (completed again by the fresh parser)
    except ParseError:
        return count.done > i
    return False


def mode_of(head_fields):
    return dict(head_fields).get("x-mode", "echo")


def server_refusal(view):
    return view.get("server's") and view["status"] in (400, 417)


def _secure(head_fields):
    """Whether each scheme field gunicorn reads (its secure_scheme_headers) says https."""
    wanted = {"x-forwarded-proto": "https", "x-forwarded-ssl": "on", "x-forwarded-protocol": "ssl"}
    return [v == wanted[n] for n, v in head_fields if n in wanted]


def refused_request(line, head_fields, refused_by_gunicorn, body=b""):
    """The known difference that explains a refusal by one server only, or None."""
    names = [n for n, _ in head_fields]
    if refused_by_gunicorn and True in _secure(head_fields) and False in _secure(head_fields):
        return "contradictory scheme fields"
    if not refused_by_gunicorn and "transfer-encoding" in names and re.search(rb"(?m)^[0-9a-fA-F]+(?:[ \t]+;|;[ \t])", body):
        return "chunk extension whitespace"
    version = line[2] if len(line) > 2 else b""
    if refused_by_gunicorn:
        if line[1] == b"*" and line[0] != b"OPTIONS":
            return "asterisk-form"
        if version == b"HTTP/1.0" and "transfer-encoding" in names:
            return "HTTP/1.0 Transfer-Encoding"
        if names.count("content-type") > 1:
            return "repeated Content-Type"
        if version == b"HTTP/1.0" and any(n == "expect" and v.lower() != "100-continue" for n, v in head_fields):
            return "HTTP/1.0 Expect"
    elif version == b"HTTP/1.1" and "host" not in names:
        return "no Host"
    return None


def mask_environ(theirs, ours, head_fields, line, applied):
    """Masks the known environ differences of two dumps (dicts) in place."""
    if "transfer-encoding" in dict(head_fields) and theirs.get("CONTENT_LENGTH") is None \
            and ours.get("CONTENT_LENGTH") == str(len(ours.get("body", "").encode("latin-1"))):
        ours["CONTENT_LENGTH"] = None
        if mode_of(head_fields) == "echo:django" and theirs.get("body") == "":
            ours["body"] = ""  # (what Django reads: CONTENT_LENGTH's bytes, none without it)
        applied.add("chunked CONTENT_LENGTH")
    proto = ", ".join(v for n, v in head_fields if n == "x-forwarded-proto").rpartition(",")[2].strip().lower()
    if theirs.get("wsgi.url_scheme") != ours.get("wsgi.url_scheme") \
            and theirs.get("wsgi.url_scheme") == ("https" if True in _secure(head_fields) else "http") \
            and ours.get("wsgi.url_scheme") == ("https" if proto in ("https", "wss") else "http"):
        ours["wsgi.url_scheme"] = theirs["wsgi.url_scheme"]
        applied.add("forwarded scheme")
    given = dict(head_fields)
    for name in ("script_name", "path_info"):  # (a name with "_": the header's own, not its dashed twin)
        key = "HTTP_" + name.upper()
        if name in given and theirs.get(key) == given[name] and key not in ours:
            del theirs[key]
            applied.add("forwarder headers")
    script = given.get("script_name")
    if script and theirs.get("SCRIPT_NAME") == script and ours.get("SCRIPT_NAME") == "" \
            and ours.get("PATH_INFO") == script + theirs.get("PATH_INFO", ""):
        ours.update(SCRIPT_NAME=script, PATH_INFO=theirs["PATH_INFO"])
        applied.add("forwarder headers")
    if line[1][:1] != b"/" and theirs.get("PATH_INFO") == "" and ours.get("PATH_INFO") == "/":
        ours["PATH_INFO"] = ""
        applied.add("empty path")
    for key in set(theirs) | set(ours):
        if theirs.get(key) == ours.get(key) or not (key.startswith("HTTP_") or key == "CONTENT_TYPE"):
            continue
        name = "content-type" if key == "CONTENT_TYPE" else key[5:].lower().replace("_", "-")
        values = [v for n, v in head_fields if n == name]
        if len(values) < 2 or theirs.get(key) != ",".join(values):
            continue
        joined = values[0] if name in SINGLE else ("; " if name == "cookie" else ", ").join(values)
        if ours.get(key) == joined:
            ours[key] = theirs[key]
            applied.add("joined fields")


NO_LENGTH = ("reason", "dup", "fields:", "file:nolength")  # no Content-Length


def mask_response(theirs, ours, method, full_mode, applied):
    """Masks the known differences of two app responses (views) in place."""
    mode = full_mode.partition(":")[0]
    if full_mode.startswith(NO_LENGTH) and ours["framing"] == "length" and theirs["framing"] in ("chunked", "close") \
            and ours["length"] and ours["complete"]:
        ours.update(framing=theirs["framing"], length=theirs["length"], te=theirs["te"])
        applied.add("list length")
    if method == b"HEAD" and full_mode.startswith(NO_LENGTH) and ours["length"] and not theirs["length"]:
        ours["length"] = False
        applied.add("HEAD length")
    if mode == "excinfo" and theirs["fields"] == {"content-type": ["application/json"],
                                                  "x-app": ["excinfo", "excinfo"]} \
            and ours["fields"] == {"x-app": ["excinfo"]}:
        ours["fields"] = theirs["fields"]
        applied.add("exc_info headers")
    if theirs["reason"] in ("", None) and ours["reason"] == "OK" and theirs["status"] == ours["status"] == 200:
        ours["reason"] = theirs["reason"]
        applied.add("empty reason")
    if ours["status"] == 304 and theirs["length"] and not ours["length"]:
        ours["length"] = True
        applied.add("304 length")


def _tokens(head_fields, name="connection"):
    return {t.strip().lower() for n, v in head_fields if n == name for t in v.split(",")}


def mask_connection(theirs, mine, line, head_fields, mode, worker, applied):
    """Masks a known difference in whether the connection stays; True when the
    responses after this one are not comparable (one side closed after it)."""
    if theirs["connection"] == mine["connection"]:
        return False
    if worker == "sync" and theirs["connection"] == ["close"]:
        mine["connection"] = ["close"]
        applied.add("sync closes")
        return False
    tokens = _tokens(head_fields)
    version = line[2] if len(line) > 2 else b""
    name = None
    if mode_of(head_fields).startswith(NO_LENGTH) and theirs["framing"] == "close" and mine["framing"] == "length" \
            and theirs["connection"] == ["close"]:
        name = "list length"
    elif mode_of(head_fields) == "fields:close" and mine["connection"] == ["close"]:
        name = "app's Connection: close"
    elif mode == "short" and mine["connection"] == ["close"] and not mine["complete"]:
        name = "short body"
        if isinstance(theirs["body"], bytes) and theirs["body"][-5:] == b"HTTP/":  # the next response's start
            try:
                theirs.update(body=json.loads(theirs["body"][:-5]), complete=False)
            except ValueError:
                pass
    elif "close" in tokens and theirs["connection"] == ["keep-alive"] and mine["connection"] == ["close"]:
        name = "close among tokens"
    elif version == b"HTTP/1.0" and {"close", "keep-alive"} <= tokens and mine["connection"] == ["keep-alive"]:
        name = "HTTP/1.0 close and keep-alive"
    elif version == b"HTTP/1.0" and "keep-alive" not in tokens and mine["connection"] == ["keep-alive"] \
            and "keep-alive" in _tokens(head_fields, "proxy-connection"):
        name = "Proxy-Connection"
    elif version == b"HTTP/1.0" and (mine["status"] in (204, 304) or line[0] == b"HEAD" and not mine["length"]) \
            and mine["connection"] == ["close"]:
        name = "HTTP/1.0 without a body"
    elif version == b"HTTP/1.0" and {"upgrade", "keep-alive"} <= tokens and mine["connection"] == ["keep-alive"]:
        name = "HTTP/1.0 Connection: upgrade"
    elif _tokens(head_fields, "transfer-encoding") - {"chunked"} and theirs["connection"] == ["close"]:
        name = "unknown transfer coding"
    if name is None:
        return False
    mine["connection"] = theirs["connection"]
    applied.add(name)
    return True
