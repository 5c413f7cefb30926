"""The WSGI test app of the differential fuzz against gunicorn (tests/fuzz_wsgi_gunicorn.py),
served the same by prefork and by gunicorn as ``apps.fuzz_wsgi:app``.

``app`` answers with a canonical JSON dump of what an app reads from its environ
(``DUMPED``, every ``HTTP_*`` key, the body as read through ``wsgi.input``); the
request's ``X-Mode`` header makes it answer in other ways (odd status reasons,
duplicate headers, a generator, ``write()``, ``exc_info``, a body that does not match
its Content-Length, 204/304 with a body).
"""

import json
import sys
import tempfile

DUMPED = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL", "CONTENT_TYPE",
          "CONTENT_LENGTH", "RAW_URI", "wsgi.url_scheme", "wsgi.input_terminated")
STATUSES = ["200 OK", "201 Created Ok", "299 Whatever", "404 Not  Found", "200 ", "200", "418 I'm a teapot",
            "599 x\tY", "200 caf\xe9", "500 Internal Server Error"]


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
