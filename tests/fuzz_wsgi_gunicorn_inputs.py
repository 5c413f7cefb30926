"""Seeded generator of the request streams for the WSGI fuzz against gunicorn
(tests/test_fuzz_wsgi_gunicorn.py), sent to the app of tests/apps/fuzz_wsgi.py: one to
three requests per connection (methods, percent-encoded and raw targets, absolute forms,
odd and repeated fields, the app's ``X-Mode``, Content-Length forms, chunked bodies with
extensions and trailers, other transfer codings, Expect: 100-continue). Same seed, same
inputs.
"""

import random

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
