"""Seeded generator of hostile HTTP/1.1 request streams, shared by the fuzz campaigns.

A stream is 1-4 messages: mostly well-formed requests (bodies by Content-Length or
chunked, with extensions and trailers), built from pools of tricky heads and values,
then sometimes mutated (bytes flipped, inserted, dropped, duplicated, truncated). The
stream is cut into reads at random offsets (sometimes one byte at a time).
Same seed, same inputs.
"""

import random

METHODS = [b"GET"] * 6 + [b"POST"] * 4 + [b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT",
                                          b"get", b"G\x00T", b"PRI", b"SEARCH", b"QUERY", b"M-SEARCH", b""]
TARGETS = [b"/", b"/a", b"/a?b=c&d", b"/%20x", b"*", b"http://h/p", b"/" + b"x" * 300, b"/a b",
           b"/\x7f", b"/\x80\xff", b"", b"/#frag", b"h:1", b"/a\tb"]
VERSIONS = [b"HTTP/1.1"] * 8 + [b"HTTP/1.0"] * 3 + [b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9", b"HTTP/1.1 ",
                                                    b"http/1.1", b"HTTP/11", b""]
CONNECTION = [b"close", b"keep-alive", b"upgrade", b"Close", b"KEEP-ALIVE", b"close, upgrade",
              b"keep-alive, Upgrade", b"foo", b"close ", b" close", b"", b"te, close", b"closed",
              b"keep-alive\t", b"close\t", b"keep-alive \t", b"keep-alive\t, foo", b"upgrade\t"]
TE = [b"chunked", b"Chunked", b"gzip, chunked", b"chunked, gzip", b" chunked", b"identity",
      b"chunked,chunked", b"xchunked", b"chunked ", b"gzip"]
CL = [b"0", b"5", b"5 ", b" 5", b"05", b"-1", b"5,5", b"abc", b"99999999999999999999", b"+5", b"5 5", b""]
NAMES = [b"X-A", b"Accept", b"User-Agent", b"Cookie", b"Set-Cookie", b"Expect", b"Upgrade",
         b"Proxy-Connection", b"X", b"x-" + b"n" * 40, b"Bad Name", b"Bad:Name", b"", b"\x80",
         b"Content-Length ", b"Transfer_Encoding", b"Keep-Alive"]
VALUES = [b"v", b"", b"a, b", b"100-continue", b"websocket", b"\x80\xff", b"a\x00b", b"a\x7fb", b"a\tb",
          b" v ", b"v" * 200, b"a\rb", b"a\nb", b"\"quoted\"", b"timeout=5"]
EXTENSIONS = [b"", b";a", b";a=b", b';a="b c"', b';a="x\\"y"', b";a=b;c=d", b";;", b";a=", b";=b",
              b" ;a", b"; a", b";a =b", b';a="b";c', b";a=b ", b';a="unterminated', b";\x80",
              b";" + b"e" * 200]


def _chunked_body(rng):
    parts = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 5])):
        data = bytes(rng.choice(b"abcxyz\r\n") for _ in range(rng.choice([0, 1, 3, 10, 40])))
        size = rng.random()
        if size < 0.85:
            size_text = b"%x" % len(data)
        elif size < 0.9:
            size_text = b"%X" % len(data) if len(data) > 9 else b"00" + b"%x" % len(data)
        else:
            size_text = rng.choice([b"g", b"", b"-1", b"fffffffffffffffffff", b"%x" % (len(data) + 1)])
        ext = rng.choice(EXTENSIONS) if rng.random() < 0.4 else b""
        parts.append(size_text + ext + b"\r\n" + data + b"\r\n")
    last = b"0" + (rng.choice(EXTENSIONS) if rng.random() < 0.2 else b"") + b"\r\n"
    trailers = b""
    if rng.random() < 0.25:
        trailers = b"".join(rng.choice(NAMES[:6]) + b": " + rng.choice(VALUES[:5]) + b"\r\n"
                            for _ in range(rng.randint(1, 2)))
    return b"".join(parts) + last + trailers + b"\r\n"


def message(rng, targets=TARGETS):
    """One request, usually valid; the tricky parts come from the pools."""
    method = rng.choice(METHODS)
    line = method + b" " + rng.choice(targets) + b" " + rng.choice(VERSIONS)
    headers = []
    if rng.random() < 0.9:
        headers.append((b"Host", b"x"))
    for _ in range(rng.choice([0, 0, 1, 2, 4])):
        headers.append((rng.choice(NAMES), rng.choice(VALUES)))
    body = b""
    framing = rng.random()
    if framing < 0.25 or method in (b"POST", b"PUT") and framing < 0.6:
        length = rng.choice([0, 1, 5, 5, 12])
        body = bytes(rng.choice(b"abcdef\r\n") for _ in range(length))
        value = b"%d" % length if rng.random() < 0.8 else rng.choice(CL)
        headers.append((b"Content-Length", value))
        if rng.random() < 0.05:
            headers.append((b"Content-Length", rng.choice([value, b"%d" % (length + 1)])))
    elif framing < 0.5:
        headers.append((b"Transfer-Encoding", rng.choice(TE) if rng.random() < 0.3 else b"chunked"))
        body = _chunked_body(rng)
        if rng.random() < 0.05:
            headers.append((b"Content-Length", b"3"))
    if rng.random() < 0.3:
        headers.append((b"Connection", rng.choice(CONNECTION)))
        if rng.random() < 0.3:
            headers.append((b"Upgrade", b"websocket"))
    rng.shuffle(headers)
    sep = b": " if rng.random() < 0.9 else rng.choice([b":", b":\t", b" : ", b":  "])
    eol = b"\r\n" if rng.random() < 0.97 else rng.choice([b"\n", b"\r", b"\r\n "])
    head = line + eol + b"".join(n + sep + v + eol for n, v in headers) + b"\r\n"
    return head + body


def mutate(rng, data):
    for _ in range(rng.choice([1, 1, 2, 3])):
        if not data:
            break
        op = rng.random()
        i = rng.randrange(len(data))
        if op < 0.3:
            data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
        elif op < 0.5:
            data = data[:i] + bytes([rng.choice(b"\r\n \t:;=\"\x00\x80")]) + data[i:]
        elif op < 0.7:
            data = data[:i] + data[i + rng.randint(1, 8):]
        elif op < 0.85:
            j = min(len(data), i + rng.randint(1, 30))
            data = data[:j] + data[i:j] + data[j:]
        else:
            data = data[:i]
    return data


def stream(rng, targets=TARGETS):
    """A request stream: 1-4 messages, mutated with probability 0.35."""
    data = b"".join(message(rng, targets) for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])))
    if rng.random() < 0.05:
        data = b"\r\n" + data
    if rng.random() < 0.35:
        data = mutate(rng, data)
    return data


def splits(rng, data):
    """The reads: whole, one split, several, or (rarely) byte by byte."""
    if len(data) < 2:
        return [data] if data else []
    choice = rng.random()
    if choice < 0.25:
        return [data]
    if choice < 0.05 + 0.25 and len(data) < 400:
        return [data[i:i + 1] for i in range(len(data))]
    cuts = sorted(set(rng.randrange(1, len(data)) for _ in range(rng.choice([1, 1, 2, 3, 6]))))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def inputs(seed, count):
    """``count`` (reads, whole) pairs for ``seed``."""
    rng = random.Random(seed)
    for _ in range(count):
        data = stream(rng)
        yield splits(rng, data), data


# the reference servers' routes (tests/ref_server.js): each answers in its own way (framing,
# status, interim responses, Connection, answered before or after the body)
ROUTES = [b"/sync", b"/chunked", b"/empty", b"/cl", b"/te", b"/writehead-end", b"/writehead-end-data",
          b"/status/204", b"/status/304", b"/status/299", b"/conn-close", b"/conn-keepalive", b"/echo",
          b"/write-continue", b"/early-hints", b"/early-hints-multi", b"/processing", b"/nodate",
          b"/headers", b"/custom-headers", b"/write-empty-end", b"/flush"]


def server_inputs(seed, count):
    """``count`` (reads, whole, half_close) triples for ``seed``, for campaigns that send
    a stream to a server over a socket: streams and reads drawn as ``inputs`` draws them
    (with the reference servers' routes among the targets), and whether the client
    half-closes (sends its FIN) after its last read."""
    rng = random.Random(seed)
    targets = TARGETS + ROUTES
    for _ in range(count):
        data = stream(rng, targets)
        reads = splits(rng, data)
        yield reads, data, rng.random() < 0.5
