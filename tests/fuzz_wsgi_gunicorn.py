"""Differential fuzz of the WSGI interface: prefork's daemon against gunicorn's, one
worker each, both serving ``app`` below, on the same generated request streams.

``app`` answers with a canonical JSON dump of what an app reads from its environ
(``DUMPED``, every ``HTTP_*`` key, the body as read through ``wsgi.input``); the
request's ``X-Mode`` header makes it answer in other ways (odd status reasons,
duplicate headers, a generator, ``write()``, ``exc_info``, a body that does not match
its Content-Length, 204/304 with a body). Each input is sent on a new loopback
connection to each server (its head first, then its body once a 100 came, when it
expects one), then half-closed; the connection is read to its close. Compared per
response the client reads (its method known from the request it answers): the status
and reason, the framing (Content-Length, Transfer-Encoding, Connection, close-delimited),
the app's own headers, the body (the dump parsed), then whether the connection closed
and what was left unparsed. What legitimately differs is in ``known_difference``
(tests/test_fuzz_wsgi_gunicorn.py holds the table, each entry with its reason).

CI runs a seeded batch (tests/test_fuzz_wsgi_gunicorn.py); a long one:

    python tests/test_fuzz_wsgi_gunicorn.py --inputs 20000 --seed 1 --worker gthread [--threads 4]
"""

import json
import os
import random
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

DUMPED = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL", "CONTENT_TYPE",
          "CONTENT_LENGTH", "RAW_URI", "wsgi.url_scheme", "wsgi.input_terminated")
STATUSES = ["200 OK", "201 Created Ok", "299 Whatever", "404 Not  Found", "200 ", "200", "418 I'm a teapot",
            "599 x\tY", "200 caf\xe9", "500 Internal Server Error"]


# -- the app both servers run ------------------------------------------------------------
READS = {  # the ways an app reads wsgi.input, by X-Mode "echo:WAY" (read() when none is named)
    "readline": lambda stream: iter(stream.readline, b""), "line3": lambda stream: iter(lambda: stream.readline(3), b""),
    "chunks": lambda stream: iter(lambda: stream.read(3), b""), "iter": iter, "readlines": lambda s: s.readlines(),
    "none": lambda stream: [stream.read(None)], "neg": lambda stream: [stream.read(-1)],
}


def _read_body(environ, how):
    stream = environ["wsgi.input"]
    if how == "django":  # Django reads CONTENT_LENGTH bytes, none without it
        length = environ.get("CONTENT_LENGTH") or "0"
        return stream.read(int(length)) if length.isdigit() and int(length) > 0 else b""
    return b"".join(READS.get(how, lambda stream: [stream.read()])(stream))


def dump(environ, body):
    out = {key: environ.get(key) for key in DUMPED}
    out.update((key, value) for key, value in environ.items() if key.startswith("HTTP_"))
    out["body"] = body.decode("latin-1")
    return json.dumps(out, sort_keys=True).encode()


def app(environ, start_response):
    mode, _, arg = environ.get("HTTP_X_MODE", "echo").partition(":")
    how = arg if mode == "echo" else "read"
    data = dump(environ, _read_body(environ, how))
    plain = [("Content-Type", "application/json"), ("X-App", mode)]
    if mode == "reason":
        start_response(STATUSES[int(arg or 0) % len(STATUSES)], plain)
        return [data]
    if mode == "dup":
        start_response("200 OK", plain + [("X-Dup", "a"), ("X-Dup", "b"), ("Set-Cookie", "a=1"),
                                          ("Set-Cookie", "b=2; Path=/"), ("X-Space", "  padded  ")])
        return [data]
    if mode == "gen":
        start_response("200 OK", plain)
        return (block for block in (data[:10], b"", data[10:]))
    if mode == "write":
        write = start_response("200 OK", plain)
        write(data[:7])
        return [data[7:]]
    if mode == "excinfo":
        start_response("200 OK", plain)
        try:
            raise ValueError("replaced")
        except ValueError:
            start_response("503 Replaced", [("X-App", mode), ("Content-Length", "8")], sys.exc_info())
        return [b"replaced"]
    if mode == "raise":
        raise RuntimeError("the fuzz app raises")
    if mode == "genraise":  # the head and a block out, then the app fails
        start_response("200 OK", plain)
        return (data[:i] if i else 1 / 0 for i in (10, 0))
    if mode == "file":  # wsgi.file_wrapper around a real file (sendfile where the server can)
        spool = tempfile.TemporaryFile()
        spool.write(data)
        spool.seek(0)
        start_response("200 OK", plain + ([("Content-Length", str(len(data)))] if arg != "nolength" else []))
        return environ["wsgi.file_wrapper"](spool)
    if mode == "fields":  # odd header fields from the app: a 500, or what goes out
        odd = {"space": [("Content-Length", " %d " % len(data))], "twice": [("Content-Length", str(len(data)))] * 2,
               "badname": [("Bad Name", "v")], "ctl": [("X-Ctl", "a\x01b")], "empty": [("X-Empty", "")],
               "hop": [("Transfer-Encoding", "chunked"), ("Keep-Alive", "timeout=9"), ("Upgrade", "h2c")],
               "close": [("Connection", "close")], "alive": [("Connection", "keep-alive")]}
        start_response("200 OK", plain + odd.get(arg, []))
        return [data]
    if mode == "str":  # a str body block: the app's error
        start_response("200 OK", plain)
        return [data.decode("latin-1")]
    if mode in ("short", "long"):  # five bytes missing, or five too many after the dump
        length = len(data) + (5 if mode == "short" else 0)
        start_response("200 OK", plain + [("Content-Length", str(length))])
        return [data] if mode == "short" else [data, b"12345"]
    if mode in ("204", "304"):
        start_response(mode + (" No Content" if mode == "204" else " Not Modified"),
                       [("X-App", mode)] + ([("Content-Length", str(len(data)))] if arg == "cl" else []))
        return [data] if arg != "gen" else iter([data])
    start_response("200 OK", plain + [("Content-Length", str(len(data)))])
    return [data]


# -- the inputs ---------------------------------------------------------------------------
METHODS = [b"GET"] * 4 + [b"POST"] * 3 + [b"PUT", b"HEAD", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH"]
TARGETS = [b"/", b"/a/b", b"/a%2Fb", b"/a%00b", b"/%zz", b"/a%", b"/a%2", b"/caf%C3%A9", b"/%FF%FE", b"/a/../b",
           b"//double//", b"/a;p=1", b"http://example.com/p?q=1", b"http://example.com:8080", b"https://u@h/p?x",
           b"HTTP://H/up", b"/q?a=1&b=%zz", b"/q?x=%00&y=%2F", b"/q??", b"/q?a=1#frag", b"/p#f?g", b"/q?", b"/?",
           b"/caf\xc3\xa9", b"/\xff", b"/a+b?c+d", b"/~u/!$&'()*+,;=:@", b"*", b"/q?\"<>`{}|", b"/a%20b%2520"]
VERSIONS = [b"HTTP/1.1"] * 6 + [b"HTTP/1.0"] * 3
HOSTS = [b"x", b"x:8080", b"[::1]:80", b"example.com", b"", b"X.Example.COM:443"]
MODES = [b"echo"] * 10 + [b"echo:readline", b"echo:django", b"echo:chunks", b"echo:line3", b"echo:iter",
                          b"echo:readlines", b"echo:none", b"echo:neg", b"genraise", b"file", b"file:nolength",
                          b"fields:space", b"fields:twice", b"fields:badname", b"fields:ctl", b"fields:empty", b"str",
                          b"fields:hop", b"fields:close", b"fields:alive",
                          b"reason:1", b"reason:3", b"reason:4",
                          b"reason:5", b"reason:6", b"reason:7", b"reason:8", b"dup", b"gen", b"gen", b"write",
                          b"excinfo", b"raise", b"short", b"long", b"204", b"204:cl", b"304", b"304:cl",
                          b"304:gen"]
HEADERS = [
    (b"X-Dup", b"a"), (b"X-Dup", b"b"), (b"Accept", b"text/html"), (b"Accept", b"*/*"), (b"Cookie", b"a=1"),
    (b"Cookie", b"b=2"), (b"X-Under_Score", b"u"), (b"X_Lead", b"v"), (b"X-Empty", b""), (b"X-Space", b"  v  "),
    (b"Content-Type", b"text/plain"), (b"Content-Type", b"application/json"), (b"User-Agent", b"caf\xe9/1"),
    (b"X-Tab", b"a\tb"), (b"x-lower", b"l"), (b"X-UPPER", b"U"), (b"Host", b"second"), (b"X-Fold", b"a\r\n b"),
    (b"X-Forwarded-For", b"10.1.2.3"), (b"X-Forwarded-Proto", b"https"), (b"Referer", b"http://r/"),
    (b"X-Utf8", b"\xc3\xa9"), (b"Authorization", b"Basic eDp5"), (b"Connection", b"keep-alive"),
    (b"Connection", b"close"), (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"), (b"TE", b"trailers"),
    (b"Keep-Alive", b"timeout=5"), (b"Proxy-Connection", b"keep-alive"), (b"Content-Length", b"0"),
    (b"X-Comma", b"a, b"), (b"Expect", b"100-continue"), (b"Expect", b"foo"),
    (b"SCRIPT_NAME", b"/a"), (b"PATH_INFO", b"/zz"), (b"X-Forwarded-Proto", b"HTTPS"),
    (b"X-Forwarded-Proto", b"http, https"), (b"X-Forwarded-Proto", b"http"), (b"X-Forwarded-Ssl", b"on"),
    (b"X-Forwarded-Protocol", b"ssl")]
EXTENSIONS = [b";a", b";a=b", b';a="b c"', b";a=b;c=d", b"; a=b"]
TRAILERS = [b"X-T: 1\r\n", b"X-T: 1\r\nX-U: 2\r\n", b"Content-Type: late\r\n"]
TE = [b"chunked", b"Chunked", b"CHUNKED", b"gzip, chunked", b"identity", b"chunked, chunked", b"chunked "]
CL_FORMS = [b"%d", b"0%d", b"+%d", b" %d ", b"%d, %d", b"%d,%d"]


def _chunked(rng, body):
    out = []
    i = 0
    while i < len(body):
        n = rng.randint(1, max(1, len(body) - i))
        ext = rng.choice(EXTENSIONS) if rng.random() < 0.3 else b""
        size = b"%x" % n if rng.random() < 0.8 else b"%X" % n
        out.append(size + ext + b"\r\n" + body[i:i + n] + b"\r\n")
        i += n
    trailers = rng.choice(TRAILERS) if rng.random() < 0.3 else b""
    return b"".join(out) + b"0" + (rng.choice(EXTENSIONS) if rng.random() < 0.2 else b"") + b"\r\n" + trailers + b"\r\n"


def request(rng):
    """One request: (method, head, body, expects a 100)."""
    method = rng.choice(METHODS)
    target = b"*" if method == b"OPTIONS" and rng.random() < 0.3 else rng.choice(TARGETS[:-1] + [TARGETS[-1]])
    version = rng.choice(VERSIONS)
    headers = []
    if rng.random() < 0.9:
        headers.append((b"Host", rng.choice(HOSTS)))
    headers.append((b"X-Mode", rng.choice(MODES)))
    headers += rng.sample(HEADERS, rng.choice([0, 1, 2, 3, 5]))
    if version == b"HTTP/1.0" and rng.random() < 0.5:
        headers.append((b"Connection", b"keep-alive"))
    body = b""
    framing = rng.random()
    if framing < 0.55 or method in (b"POST", b"PUT", b"PATCH") and framing < 0.8:
        body = bytes(rng.choice(b"abc\r\n\x00\xe9=&") for _ in range(rng.choice([0, 1, 5, 12, 40])))
        kind = rng.random()
        if kind < 0.5:
            form = rng.choice(CL_FORMS) if rng.random() < 0.2 else b"%d"
            headers.append((b"Content-Length", form.replace(b"%d", b"%d" % len(body))))
            if rng.random() < 0.05:
                headers.append((b"content-length", rng.choice([b"%d" % len(body), b"%d" % (len(body) + 1)])))
        else:
            te = rng.choice(TE) if rng.random() < 0.3 else b"chunked"
            headers.append((b"Transfer-Encoding", te))
            body = _chunked(rng, body) if te.strip().lower().endswith(b"chunked") else body
            if rng.random() < 0.08:
                headers.append((b"Content-Length", b"%d" % len(body)))
    if rng.random() < 0.3:
        headers.append((b"Content-Type", b"application/x-www-form-urlencoded"))
    expects = any(n == b"Expect" and v == b"100-continue" for n, v in headers)
    if body and not expects and rng.random() < 0.1:
        headers.append((b"Expect", b"100-continue"))
        expects = True
    rng.shuffle(headers)
    head = method + b" " + target + b" " + version + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in headers)
    return method, head + b"\r\n", body, expects


def inputs(seed, count):
    """``count`` cases: lists of (method, head, body, expects a 100), 1-3 requests each."""
    rng = random.Random(seed)
    for _ in range(count):
        yield [request(rng) for _ in range(rng.choice([1, 1, 1, 1, 2, 3]))]


# -- one exchange --------------------------------------------------------------------------
def exchange(port, case, deadline=5.0):
    """Sends ``case`` on a new connection (waiting up to 0.5 s for a 100 where the
    request expects one), half-closes, reads to the close: (bytes, closed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=deadline)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = bytearray()
    try:
        for i, (method, head, body, expects) in enumerate(case):
            if expects and i == 0:
                sock.sendall(head)
                sock.settimeout(0.5)
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except socket.timeout:
                    pass
                sock.settimeout(deadline)
                sock.sendall(body)
            else:
                sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    end, chunk = time.monotonic() + deadline, None
    while chunk != b"" and time.monotonic() < end:  # to the close (a reset is one), within the deadline
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            chunk = b""
        data += chunk
    sock.close()
    return bytes(data), chunk == b""


# -- what the client reads -----------------------------------------------------------------
class Response:
    __slots__ = ("status", "reason", "headers", "framing", "body", "complete")

    def __init__(self, status, reason, headers):
        self.status, self.reason, self.headers = status, reason, headers
        self.framing, self.body, self.complete = None, b"", True

    def get(self, name):
        return [v for n, v in self.headers if n == name]


def parse(data, methods):
    """The responses in ``data`` (1xx ones included), the i-th final one read as the
    answer to ``methods[i]``; and the bytes left unparsed."""
    out = []
    finals = 0
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            break
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")))
        res = Response(int(parts[1]), parts[2].decode("latin-1") if len(parts) > 2 else None, headers)
        out.append(res)
        data = rest
        if res.status < 200:
            continue
        method = methods[finals] if finals < len(methods) else b"GET"
        finals += 1
        length = res.get("content-length")
        chunked = "chunked" in ",".join(res.get("transfer-encoding")).lower()
        if method == b"HEAD" or res.status in (204, 304):
            res.framing = "none"
        elif chunked:
            res.framing = "chunked"
            body = bytearray()
            while True:
                line, sep, data = data.partition(b"\r\n")
                try:
                    size = int(line.split(b";")[0], 16)
                except ValueError:
                    size = -1
                if not sep or size < 0 or len(data) < size + 2:
                    res.complete, data = False, b""
                    break
                if size == 0:
                    data = data[data.find(b"\r\n\r\n") + 4:] if not data.startswith(b"\r\n") else data[2:]
                    break
                body += data[:size]
                data = data[size + 2:]
            res.body = bytes(body)
        elif length and length[0].isdigit():
            res.framing = "length"
            n = int(length[0])
            res.body, data = data[:n], data[n:]
            res.complete = len(res.body) == n
        else:
            res.framing = "close"
            res.body, data = data, b""
    return out, data


APP_HEADERS = ("content-type", "x-dup", "set-cookie", "x-space", "x-app")


def view(res):
    """What is compared of one response."""
    body = res.body
    try:
        body = json.loads(body) if res.body.startswith(b"{") else body
    except ValueError:
        pass
    fields = {name: res.get(name) for name in APP_HEADERS if res.get(name)}
    if not res.get("x-app"):  # the server's own answer (a parse error, a 500): its words are its own
        return {"status": res.status, "server's": True}
    # (the Content-Length's value is checked by ``complete``; it is the body's, which the dump decides)
    return {"status": res.status, "reason": res.reason, "framing": res.framing, "complete": res.complete,
            "length": bool(res.get("content-length")), "te": [v.lower() for v in res.get("transfer-encoding")],
            "connection": [v.lower() for v in res.get("connection")], "fields": fields, "body": body}


class Outcome:
    def __init__(self, data, closed, case):
        self.data, self.closed, self.case = data, closed, case
        self.responses, self.rest = parse(data, [m for m, *_ in case])
        self.finals = []  # each final response's view, with the 1xx statuses before it
        interim = []
        for res in self.responses:
            if res.status < 200:
                interim.append(res.status)
                continue
            self.finals.append(dict(view(res), interim=interim))
            interim = []
        if interim:
            self.finals.append({"status": None, "interim": interim})


# -- the servers ----------------------------------------------------------------------------
def start_servers(worker="sync", threads=1):
    """(prefork's Daemon, Gunicorn), each with one worker (of ``threads`` threads), ready."""
    from daemon import Daemon, children
    from journey_peers import Gunicorn
    gun = Gunicorn("fuzz_wsgi_gunicorn:app", "--worker-class", worker, "--log-level", "warning",
                   "--error-logfile", "-", threads=threads)
    prefork = Daemon("--interface", "wsgi", "--threads", str(threads), app="fuzz_wsgi_gunicorn:app", workers=1)
    try:
        prefork.wait_ready(timeout=30)
        wait_serving(gun.port)
        gun.seen.update(children(gun.proc.pid))
    except BaseException:
        stop_servers((prefork, gun))
        raise
    return prefork, gun


def wait_serving(port, timeout=30):
    from daemon import wait_until

    def answers():
        try:
            return exchange(port, [(b"GET", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"", False)])[0][:12] == b"HTTP/1.1 200"
        except OSError:
            return False
    wait_until(answers, timeout, interval=0.05, what=f"an answer on port {port}")


def stop_servers(servers):
    for server in servers:
        server.cleanup()


def campaign(servers, seed, count, classify, parallel=8, report=None):
    """Runs ``count`` inputs; ``classify(case, gunicorn, prefork)`` names the known
    difference of an outcome pair (or None: a finding). Returns counts and findings."""
    prefork, gun = servers
    result = {"inputs": 0, "same": 0, "known": {}, "findings": []}

    def one(case):
        return case, Outcome(*exchange(gun.port, case), case), Outcome(*exchange(prefork.port, case), case)

    with ThreadPoolExecutor(parallel) as pool:
        for case, theirs, ours in pool.map(one, inputs(seed, count)):
            result["inputs"] += 1
            name = classify(case, theirs, ours)
            if name == "same":
                result["same"] += 1
            elif name is None:
                result["findings"].append((case, theirs, ours))
                if report:
                    report(case, theirs, ours)
            else:
                result["known"][name] = result["known"].get(name, 0) + 1
    return result
