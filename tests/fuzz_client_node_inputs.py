"""Seeded generator of hostile HTTP/1.1 responses, for the client's differential fuzz
against Node's (tests/test_fuzz_client_node.py).

A case is one request (GET, HEAD or POST with a small body) and the server's answer on
its connection: 0-3 informational (1xx) heads, a final response (status lines good and
bad, tricky or malformed header fields, a body framed by Content-Length, chunks with
extensions and trailers, or the connection's end; 204/304 and answers to HEAD with a
body), sometimes bytes after it, sometimes mutated (bytes flipped, inserted, dropped,
duplicated, truncated as tests/fuzz_inputs.py does for requests), sometimes cut short
at any stage (then the connection ends), cut into reads at
random offsets (sometimes one byte at a time), and then what the server does with the
connection: keeps it (and answers the agent's second request on it), sends its FIN, or
resets it. Same seed, same cases.
"""

import random

from fuzz_inputs import mutate

AGENTS = ["keep"] * 8 + ["plain", "none"]  # a keep-alive Agent, one without keep-alive, agent false
# the first response's reader: a data listener, one added a loop turn later, resume(), nobody
READERS = ["data"] * 7 + ["late", "resume", "none"]
METHODS = ["GET"] * 6 + ["HEAD"] * 2 + ["POST"] * 2
VERSIONS = [b"HTTP/1.1"] * 10 + [b"HTTP/1.0"] * 3 + [b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9", b"http/1.1",
                                                     b"HTTP/11", b"HTTP/1.1 ", b"", b"ICY", b"RTSP/1.0"]
STATUSES = [b"200"] * 12 + [b"201", b"204", b"204", b"304", b"304", b"404", b"500", b"302", b"101", b"199",
                            b"999", b"1000", b"099", b"20", b"abc", b"", b"600", b"0200", b"-200", b"2 00"]
INFO_STATUSES = [b"100", b"102", b"103", b"103", b"100", b"199", b"150"]
REASONS = [b"OK"] * 8 + [b"", b" ", b"Not Found", b"\x80\xff", b"a\tb", b"OK\x7f", b"r" * 300, b"a\x00b",
                         b"Early Hints", b"OK ", b"a\rb", b"\xe9t\xe9", b"r" * 17000]
STATUS_SEPS = [b" "] * 12 + [b"  ", b"\t", b""]
CONNECTION = [b"close", b"keep-alive", b"Close", b"KEEP-ALIVE", b"upgrade", b"close, upgrade",
              b"Upgrade", b"foo", b"close ", b"", b"te, close", b"closed", b"keep-alive\t"]
TE = [b"chunked", b"Chunked", b"gzip, chunked", b"chunked, gzip", b" chunked", b"identity",
      b"chunked,chunked", b"xchunked", b"chunked ", b"gzip", b""]
CL = [b"0", b"5", b"5 ", b" 5", b"05", b"-1", b"5,5", b"5, 5", b"abc", b"99999999999999999999", b"+5",
      b"5 5", b"", b"0x5"]
NAMES = [b"X-A", b"Content-Type", b"Set-Cookie", b"Location", b"Server", b"Date", b"Cache-Control",
         b"Vary", b"ETag", b"Link", b"Keep-Alive", b"Upgrade", b"Trailer", b"Proxy-Connection",
         b"x-" + b"n" * 40, b"Bad Name", b"Bad:Name", b"", b"\x80", b"Content-Length ", b"Transfer_Encoding",
         b"From", b"Age", b"Expires", b"Authorization", b"Host", b"Cookie", b"Referer", b"User-Agent",
         b"X-A"]
VALUES = [b"v", b"", b"a, b", b"text/html", b"timeout=5", b"timeout=1, max=2", b"\x80\xff", b"a\x00b",
          b"a\x7fb", b"a\tb", b" v ", b"v" * 200, b"a\rb", b"a\nb", b"\"quoted\"", b"websocket",
          b"a=1; Path=/", b"v\t", b"\xe9"]
EXTENSIONS = [b"", b";a", b";a=b", b';a="b c"', b';a="x\\"y"', b";a=b;c=d", b";;", b";a=", b";=b",
              b" ;a", b"; a", b";a =b", b';a="b";c', b";a=b ", b';a="unterminated', b";\x80",
              b";" + b"e" * 200, b"\t;a"]
TRAILER_NAMES = [b"X-T", b"Expires", b"Server-Timing", b"Content-Length", b"Set-Cookie", b"Bad Name", b"X-T"]
EOLS = [b"\r\n"] * 60 + [b"\n", b"\r", b"\r\n ", b"\n\r"]
AFTER = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", b"\r\n", b"x", b"garbage\r\n\r\n",
         b"HTTP/1.1 100 Continue\r\n\r\n", b"\x00", b"0\r\n\r\n", b"HTTP/1.1 200 OK\r\n"]
SECOND = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Second: yes\r\n\r\nsecond"


def _body(rng, size):
    return bytes(rng.choice(b"abcxyz019\r\n") for _ in range(size))


def _chunked(rng):
    parts = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 5])):
        data = _body(rng, rng.choice([1, 1, 3, 10, 40, 700]))
        roll = rng.random()
        if roll < 0.85:
            size_text = b"%x" % len(data)
        elif roll < 0.9:
            size_text = b"%X" % len(data) if len(data) > 9 else b"00" + b"%x" % len(data)
        else:
            size_text = rng.choice([b"g", b"", b"-1", b"fffffffffffffffffff", b"%x" % (len(data) + 1),
                                    b"0x%x" % len(data), b" %x" % len(data)])
        ext = rng.choice(EXTENSIONS) if rng.random() < 0.3 else b""
        if rng.random() < 0.03:  # around Node's 16 KiB of chunk extensions
            ext = b";" + b"e" * rng.choice([8000, 16383, 16384, 17000]) + rng.choice([b"", b"=" + b"v" * 1000])
        parts.append(size_text + ext + b"\r\n" + data + rng.choice([b"\r\n"] * 20 + [b"\n", b"", b"xx"]))
    last = rng.choice([b"0"] * 8 + [b"00", b"000"]) + (rng.choice(EXTENSIONS) if rng.random() < 0.2 else b"") + b"\r\n"
    trailers = b""
    if rng.random() < 0.3:
        trailers = b"".join(rng.choice(TRAILER_NAMES) + b": " + rng.choice(VALUES[:6]) + b"\r\n"
                            for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.1:  # around Node's 16 KiB of header fields, in the trailers
            trailers += b"X-Big: " + b"t" * rng.choice([8000, 16300, 17000]) + b"\r\n"
    return b"".join(parts) + last + trailers + b"\r\n"


def _head(rng, statuses, fields):
    line = rng.choice(VERSIONS) + rng.choice(STATUS_SEPS) + rng.choice(statuses)
    roll = rng.random()
    if roll < 0.85:
        line += b" " + rng.choice(REASONS)
    elif roll < 0.92:
        line += b" "
    eol = rng.choice(EOLS)
    sep = b": " if rng.random() < 0.9 else rng.choice([b":", b":\t", b" : ", b":  ", b"\t: "])
    return line + eol + b"".join(n + sep + v + rng.choice(EOLS) for n, v in fields) + b"\r\n"


def _informational(rng):
    fields = [(b"Link", b"</a.css>; rel=preload")] if rng.random() < 0.5 else []
    if rng.random() < 0.2:
        fields.append((rng.choice(NAMES), rng.choice(VALUES)))
    if rng.random() < 0.1:
        fields.append((b"Content-Length", b"5"))  # a length on a 1xx: no body
    return _head(rng, INFO_STATUSES, fields)


def final(rng, method):
    """The final response: its bytes, and whether its end is known without the
    connection's (a length or chunks, or no body by its status or the method)."""
    fields = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        fields.append((rng.choice(NAMES), rng.choice(VALUES)))
    if rng.random() < 0.15:
        fields += [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")]
    if rng.random() < 0.04:  # around Node's 16 KiB of header fields (its client's limit)
        fields.append((b"X-Big", b"h" * rng.choice([8000, 16300, 16384, 20000])))
    if rng.random() < 0.02:
        fields += [(b"X-%d" % i, b"v") for i in range(rng.choice([100, 2100]))]
    if rng.random() < 0.1:
        fields += [(b"Content-Type", b"text/plain"), (b"content-type", b"text/html")]
    body = b""
    delimited = True
    roll = rng.random()
    if roll < 0.45:
        size = rng.choice([0, 1, 5, 5, 12, 100, 3000, 70000] if rng.random() < 0.9 else [0, 1, 5])
        body = _body(rng, size)
        value = b"%d" % size if rng.random() < 0.85 else rng.choice(CL)
        fields.append((rng.choice([b"Content-Length"] * 6 + [b"content-length", b"CONTENT-LENGTH"]), value))
        if rng.random() < 0.05:
            fields.append((b"Content-Length", rng.choice([value, b"%d" % (size + 1)])))
    elif roll < 0.8:
        fields.append((b"Transfer-Encoding", rng.choice(TE) if rng.random() < 0.25 else b"chunked"))
        body = _chunked(rng)
        if rng.random() < 0.05:
            fields.append((b"Content-Length", b"3"))
    else:
        body = _body(rng, rng.choice([0, 3, 20, 2000]))
        delimited = False
    if rng.random() < 0.25:
        fields.append((b"Connection", rng.choice(CONNECTION)))
        if rng.random() < 0.3:
            fields.append((b"Upgrade", b"websocket"))
    rng.shuffle(fields)
    head = _head(rng, STATUSES, fields)
    return head + body, delimited


def case(rng, ident):
    """One case: the request to make and the server's reads and end."""
    method = rng.choice(METHODS)
    agent = rng.choice(AGENTS)
    reader = rng.choice(READERS)
    data = b"".join(_informational(rng) for _ in range(rng.choice([0] * 8 + [1, 1, 2, 3])))
    response, delimited = final(rng, method)
    data += response
    if rng.random() < 0.1:
        data += rng.choice(AFTER)
        delimited = False  # what follows may keep the client waiting: the server ends it
    mutated = rng.random() < 0.3
    if mutated:
        data = mutate(rng, data)
    if rng.random() < 0.12:
        # the connection ends at any stage: before a byte, in a head, in a body
        data = data[:rng.randrange(len(data) + 1)]
        return {"id": ident, "method": method, "reads": splits(rng, data), "end": rng.choice(["fin", "rst"]),
                "agent": agent, "reader": reader}
    roll = rng.random()
    if delimited and not mutated and roll < 0.7:
        end = "keep"
    elif roll < 0.85:
        end = "fin"
    elif roll < 0.95:
        end = "rst"
    else:
        end = "keep"  # a client waiting for more bytes gets the FIN after the server's hold
    return {"id": ident, "method": method, "reads": splits(rng, data), "end": end, "agent": agent,
            "reader": reader}


def splits(rng, data):
    """The reads: whole, one split, several, or (rarely) byte by byte."""
    if len(data) < 2:
        return [data] if data else []
    choice = rng.random()
    if choice < 0.3:
        return [data]
    if choice < 0.36 and len(data) < 300:
        return [data[i:i + 1] for i in range(len(data))]
    cuts = sorted(set(rng.randrange(1, len(data)) for _ in range(rng.choice([1, 1, 2, 3, 6]))))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def cases(seed, count):
    """``count`` cases for ``seed``."""
    rng = random.Random(seed)
    return [case(rng, i) for i in range(count)]
