"""Seeded generator of request byte streams for the parser's differential fuzz against
Node (tests/test_http_parser_fuzz_node.py), wider than tests/fuzz_inputs.py: each message
is built as parts (request line, header fields, framing, body) and mutated on those parts
before it becomes bytes, then the bytes may be mutated too:

- request lines: odd or long methods, targets and versions, extra or missing spaces;
- header fields: duplicated, reordered, dropped, whitespace around names, colons and
  values, obsolete line folding, empty names or values;
- line ends chosen per line among CRLF, LF and CR (and the head's end apart);
- framing: Content-Length and Transfer-Encoding variants, both, repeated, in odd case;
  chunked bodies with odd sizes (leading zeros, upper case, too big or small, signs,
  spaces), extensions, trailers (valid and not), bare LF line ends;
- pipelines of 2 to 5 messages (or of 2 to 6 heads without bodies, at the edge of the
  request parser's fast path for common heads), and bytes inserted, deleted or replaced at random
  offsets of the whole stream;
- the stream cut into 1 to 8 writes at random offsets.

Same seed, same streams. ``streams(seed, count)`` yields (writes, data).
"""

import random

METHODS = [b"GET"] * 8 + [b"POST"] * 5 + [b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE",
                                          b"PROPFIND", b"MKCOL", b"LINK", b"PURGE", b"QUERY", b"SOURCE",
                                          b"get", b"Get", b"GETT", b"GE", b"POS", b"X" * 40, b"G E T", b"GET ",
                                          b"\tGET", b"M-SEARCH", b"NOTIFY", b"REPORT", b"ACL", b"BIND"]
TARGETS = [b"/"] * 6 + [b"/echo", b"/a/b?c=d&e", b"/?", b"/%00", b"/%zz", b"//x", b"/a;b", b"*",
                        b"http://h:80/p?q", b"https://h/", b"h:443", b"/" + b"y" * 2000,
                        b"/" + b"z" * 9000, b"/a\x01b", b"/a\x7fb", b"/\xc3\xa9", b"/a#b", b"/a\"b",
                        b"/a{b}", b"/a|b", b"/a\\b", b"/a`b", b"/~a", b"/a^b", b"?x"]
VERSIONS = [b"HTTP/1.1"] * 10 + [b"HTTP/1.0"] * 3 + [b"HTTP/1.9", b"HTTP/2", b"HTTP/3.0", b"HTTP/0.9",
                                                    b"HTTP/1.", b"HTTP/1.01", b"HTTP/01.1", b"HTTP/1,1",
                                                    b"HTTPS/1.1", b"HTTP /1.1", b"HTTP/1.1\t", b"Http/1.1",
                                                    b"HTTP/9.9", b"HTTP/1.1 x"]
NAMES = [b"Accept", b"User-Agent", b"X-Y", b"Cookie", b"Referer", b"Cache-Control", b"If-None-Match",
         b"Origin", b"X-Forwarded-For", b"Expect", b"Keep-Alive", b"Upgrade", b"TE", b"Trailer",
         b"Authorization", b"Content-Type", b"Range", b"x_under", b"X~tilde", b"X!#$%&'*+-.^`|",
         b"n" * 300, b"X\x00", b"X Y", b"X\tY", b"(x)", b"X/Y", b"\xe9", b"X@Y", b"X{}"]
VALUES = [b"v", b"*/*", b"a=1; b=2", b"", b"  spaced  ", b"x" * 500, b"\"q\\\"x\"", b"\xe9\xff",
          b"a\tb", b"a\x01b", b"a\x7fb", b"100-continue", b"websocket", b"trailers", b"gzip",
          b"bytes=0-1", b"a,b,,c", b"  ", b"\t", b"a\x00b", b"v" * 5000]
CL = [b"0", b"5", b"00005", b"5 ", b" 5", b"\t5", b"5\t", b"+5", b"-5", b"5.0", b"0x5", b"5,5", b"5, 5",
      b"5,6", b"", b" ", b"18446744073709551616", b"9007199254740993", b"1e1", b"\xd9\xa5"]
TE = [b"chunked", b"CHUNKED", b"ChUnKeD", b"chunked ", b" chunked", b"chunked\t", b"gzip, chunked",
      b"gzip,chunked", b"chunked, gzip", b"chunked, chunked", b"identity", b"identity, chunked",
      b"x-custom, chunked", b"chunked;q=1", b"chunkedx", b"\"chunked\"", b"gzip", b", chunked", b"chunked,"]
CONNECTION = [b"close", b"keep-alive", b"Keep-Alive", b"CLOSE", b"upgrade", b"close, keep-alive",
              b"keep-alive, close", b"te", b"x, close", b"close,", b",close", b"closex", b"keep-alive,  x",
              b"Upgrade, HTTP2-Settings"]
EOLS = [b"\r\n"] * 20 + [b"\n"] * 4 + [b"\r"] + [b"\r\r\n", b"\n\r", b" \r\n", b"\t\r\n"]
SEPS = [b": "] * 30 + [b":", b":\t", b" :", b"\t:", b": \t ", b"::", b":  ", b" : "]
SIZES = [b"%x", b"%X", b"0%x", b"000%x", b" %x", b"%x ", b"+%x", b"-%x", b"0x%x", b"%x\t"]
EXTS = [b"", b";a", b";a=b", b";a=\"b\"", b"; a=b", b";a=b ", b";a = b", b";a=\"b\\\"c\"", b";a=\"b",
        b";=", b";", b";a;b;c", b";a=b;c=\"d e\"", b";\x00", b";a=\x7f", b";" + b"x" * 100]
TRAILERS = [b"X-T: 1", b"X-T:1", b"Expires: 0", b"X-T: a\tb", b"X T: 1", b"Content-Length: 3",
            b"Transfer-Encoding: chunked", b": x", b"X-T", b"X-T: \x01", b"Host: y"]


def _pick(rng, pool, common, odd):
    """One of the first ``common`` items of ``pool``, or with probability ``odd`` any."""
    return rng.choice(pool) if rng.random() < odd else rng.choice(pool[:common])


def _eol(rng):
    return rng.choice(EOLS) if rng.random() < 0.05 else b"\r\n"


def _chunked(rng, eol):
    out = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 4])):
        n = rng.choice([0, 1, 2, 5, 15, 16, 17, 100, 256])
        data = bytes(rng.choice(b"xyz\r\n0;") for _ in range(n))
        size = (rng.choice(SIZES) if rng.random() < 0.2 else b"%x") % n
        if rng.random() < 0.05:
            size = b"%x" % (n + rng.choice([-1, 1])) if n else b"1"
        ext = rng.choice(EXTS) if rng.random() < 0.2 else b""
        data_end = eol(rng) if rng.random() < 0.15 else b"\r\n"
        out.append(size + ext + eol(rng) + data + data_end)
    last = rng.choice([b"0", b"00", b"000000", b"0 ", b"0\t"]) if rng.random() < 0.15 else b"0"
    out.append(last + (rng.choice(EXTS) if rng.random() < 0.1 else b"") + eol(rng))
    if rng.random() < 0.25:
        for _ in range(rng.randint(1, 3)):
            out.append(rng.choice(TRAILERS) + eol(rng))
    out.append(eol(rng))
    return b"".join(out)


def message(rng):
    method = _pick(rng, METHODS, 21, 0.08)
    target = _pick(rng, TARGETS, 15, 0.1)
    version = _pick(rng, VERSIONS, 13, 0.06)
    gap = [b" ", b" ", b" ", b" ", b" ", b" ", b"  ", b"\t", b""]
    line = method + (rng.choice(gap) if rng.random() < 0.1 else b" ") + target + \
        (rng.choice(gap) if rng.random() < 0.1 else b" ") + version
    fields = []
    if rng.random() < 0.92:
        fields.append([b"Host", rng.choice([b"x", b"x", b"x:80", b"x", b"[::1]", b"", b"a b"])])
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 6])):
        fields.append([_pick(rng, NAMES, 19, 0.06), _pick(rng, VALUES, 8, 0.1)])
    body = b""
    chunked = False
    roll = rng.random()
    if roll < 0.3 or (method in (b"POST", b"PUT") and roll < 0.7):
        n = rng.choice([0, 1, 4, 5, 5, 10, 64])
        body = bytes(rng.choice(b"abc\r\n") for _ in range(n))
        value = b"%d" % n if rng.random() < 0.8 else rng.choice(CL)
        name = rng.choice([b"Content-Length"] * 16 + [b"content-length", b"CONTENT-LENGTH", b"Content-Length "])
        fields.append([name, value])
        if rng.random() < 0.06:
            fields.append([b"Content-Length", rng.choice([value, b"%d" % (n + 1), b"0"])])
    elif roll < 0.55:
        chunked = True
        name = rng.choice([b"Transfer-Encoding"] * 8 + [b"transfer-encoding", b"TRANSFER-ENCODING"])
        fields.append([name, rng.choice(TE) if rng.random() < 0.3 else b"chunked"])
        if rng.random() < 0.05:
            fields.append([b"Transfer-Encoding", rng.choice(TE)])
        if rng.random() < 0.05:
            fields.append([b"Content-Length", rng.choice(CL)])
    if rng.random() < 0.25:
        fields.append([rng.choice([b"Connection"] * 5 + [b"Proxy-Connection", b"connection"]),
                       rng.choice(CONNECTION)])
    # field mutations
    if fields and rng.random() < 0.1:
        fields.append(list(rng.choice(fields)))
    if rng.random() < 0.5:
        rng.shuffle(fields)
    if fields and rng.random() < 0.05:
        fields.pop(rng.randrange(len(fields)))
    parts = []
    for name, value in fields:
        roll = rng.random()
        if roll < 0.015:
            name = rng.choice([b" ", b"\t"]) + name
        elif roll < 0.03:
            name = name + rng.choice([b" ", b"\t"])
        elif roll < 0.05:
            value = value + rng.choice([b" ", b"\t", b"  \t"])
        elif roll < 0.06:
            value = value + _eol(rng) + rng.choice([b" ", b"\t"]) + b"folded"
        parts.append(name + (rng.choice(SEPS) if rng.random() < 0.06 else b": ") + value + _eol(rng))
    head_end = rng.choice(EOLS) if rng.random() < 0.08 else b"\r\n"
    head = line + _eol(rng) + b"".join(parts) + head_end
    if chunked:
        body = _chunked(rng, _eol)
    return head + body


FAST_NAMES = [b"Host", b"User-Agent", b"Accept", b"Accept-Encoding", b"Cookie", b"Referer", b"Origin",
              b"Cache-Control", b"X-Request-ID", b"Priority", b"host", b"accept", b"HOST", b"ACCEPT",
              b"user-AGENT", b"X-A", b"Connection", b"connection", b"Keep-Alive", b"Expect", b"Via",
              b"Content-Type", b"Authorization", b"Forwarded", b"DNT", b"TE", b"Trailer", b"Set-Cookie",
              b"Upgrade", b"Proxy-Connection", b"Content-Length", b"Transfer-Encoding"]
FAST_VALUES = [b"x", b"a b", b"", b" ", b"\t", b"  v", b"v  ", b"v\t", b"\tv", b"v \t ", b"a,b", b"close",
               b"keep-alive", b"Close", b"KEEP-ALIVE", b"close ", b" close", b"close\t", b"upgrade",
               b"keep-alive, close", b"\xe9", b"\x7f", b"a\x01", b"100-continue", b"0", b"chunked"]


def fast_head(rng):
    """A head at the fast path's boundary (no body framing, mostly HTTP/1.1 and a usual
    method): usual names in usual and odd spellings, blanks around values, repeats."""
    method = rng.choice([b"GET"] * 6 + [b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE",
                                        b"get", b"PROPFIND"])
    version = b"HTTP/1.1" if rng.random() < 0.9 else rng.choice([b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0"])
    target = rng.choice([b"/", b"/a?b=c", b"*", b"/%20", b"http://h/", b"/\xe9", b"//"])
    fields = [[b"Host", b"x"]] if rng.random() < 0.9 else []
    for _ in range(rng.choice([0, 1, 2, 3, 5])):
        name = rng.choice(FAST_NAMES[:16]) if rng.random() < 0.8 else rng.choice(FAST_NAMES)
        fields.append([name, rng.choice(FAST_VALUES[:2]) if rng.random() < 0.6 else rng.choice(FAST_VALUES)])
    if fields and rng.random() < 0.2:
        fields.append(list(rng.choice(fields)))
    rng.shuffle(fields)
    seps = [b": "] * 12 + [b":", b":\t", b":  ", b": \t"]
    return method + b" " + target + b" " + version + b"\r\n" + \
        b"".join(n + rng.choice(seps) + v + b"\r\n" for n, v in fields) + b"\r\n"


def mutate(rng, data):
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if not data:
            return data
        i = rng.randrange(len(data) + 1)
        roll = rng.random()
        if roll < 0.3:
            data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
        elif roll < 0.55:
            data = data[:i] + rng.choice([b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b";", b"\x00", b"\x7f",
                                          b"0", b"a", b"\xff", b"\r\n\r\n"]) + data[i:]
        elif roll < 0.8:
            data = data[:i] + data[i + rng.randint(1, 6):]
        elif roll < 0.9:
            j = min(len(data), i + rng.randint(1, 40))
            data = data[:j] + data[i:j] + data[j:]
        else:
            data = data.replace(b"\r\n", rng.choice([b"\n", b"\r", b"\r\r\n"]), rng.randint(1, 3))
    return data


def stream(rng):
    count = rng.choice([1, 1, 2, 2, 3, 4, 5])
    if rng.random() < 0.35:  # pipelined heads, mostly at the fast path's boundary
        data = b"".join(fast_head(rng) if rng.random() < 0.8 else message(rng) for _ in range(count + 1))
    else:
        data = b"".join(message(rng) for _ in range(count))
    if rng.random() < 0.04:
        data = rng.choice([b"\r\n", b"\n", b"\r\n\r\n", b" "]) + data
    if rng.random() < 0.3:
        data = mutate(rng, data)
    return data


def writes(rng, data):
    if len(data) < 2 or rng.random() < 0.3:
        return [data] if data else [b"\r\n"]
    cuts = sorted(set(rng.randrange(1, len(data)) for _ in range(rng.randint(1, 7))))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def streams(seed, count):
    rng = random.Random(seed)
    for _ in range(count):
        data = stream(rng)
        yield writes(rng, data), data
