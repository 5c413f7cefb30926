"""Seeded generator of the request streams for the ASGI fuzz against uvicorn
(tests/test_fuzz_asgi_uvicorn.py): what real and hostile clients send to the app of
tests/apps/fuzz_asgi.py. An input is an HTTP connection (one to three pipelined requests:
methods, percent-encoded and raw targets, absolute forms, odd and duplicate fields,
framing conflicts, chunk extensions and trailers, Expect: 100-continue) or a WebSocket
handshake (permessage-deflate offered with its parameters or not) with frames after it
(fragments, control frames, bad UTF-8, oversized, unmasked, reserved bits and opcodes,
close codes, compressed messages), cut into reads, sometimes with a
half-close. Same seed, same inputs.
"""

import base64
import random
import struct
import zlib

from apps.fuzz_asgi import HTTP_MODES, WS_MODES

WS_MAX = 4096  # --ws-max-size on both servers, so oversized messages are cheap

PATH_BITS = [b"a", b"%2F", b"%00", b"%zz", b"%E2%82%AC", b"\xff", b"%ff", b"a%20b", b"..", b"%2e%2e", b"~", b";p=1",
             b"@", b":", b"%25", b"+", b"\xc3\xa9", b"", b"%", b"%2", b"*"]
QUERIES = [b"", b"?", b"?a=1", b"?a=%zz&b=\xff", b"?x=%00;y", b"?q=a+b&q=c", b"?%E2%82%AC=\xe2\x82\xac", b"??",
           b"?a=1#frag", b"#frag", b"?a=%20 "[:-1], b"?/x?y"]
EXTRA_HEADERS = [b"X-Dup: 1\r\nX-Dup: 2\r\n", b"x_under: 1\r\n", b"X-Empty:\r\n", b"X-Empty2: \r\n",
                 b"X-Fold: a\r\n b\r\n", b"X-Latin: \xe9t\xe9\r\n", b"X-Tab: a\tb\r\n", b"Cookie: a=1\r\nCookie: b=2\r\n",
                 b"X-Forwarded-For: 10.0.0.1\r\n", b"X-Forwarded-Proto: https\r\n", b"Connection: close\r\n",
                 b"Connection: keep-alive\r\n", b"Upgrade: h2c\r\nConnection: Upgrade\r\n", b"X-UPPER: Abc\r\n",
                 b"Content-Type: text/plain\r\n", b"X-Trailing:  v  \r\n", b"X-Colon:: a\r\n", b"Host: y\r\n"]


def request(rng, rid, method=None, version=None):
    """One HTTP request's bytes and its method."""
    method = method or rng.choice([b"GET"] * 4 + [b"POST"] * 3 + [b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH"])
    version = version or rng.choice([b"1.1"] * 5 + [b"1.0"])
    raw = rng.random() < 0.15  # bytes over 0x7f in the target: both servers' parsers refuse them
    bits = PATH_BITS if raw else [b for b in PATH_BITS if b.isascii()]
    path = b"/m/" + rng.choice(HTTP_MODES).encode() + b"/" + b"/".join(rng.choice(bits) for _ in range(rng.randint(0, 3)))
    target = path + rng.choice(QUERIES if raw else [q for q in QUERIES if q.isascii()])
    roll = rng.random()
    if roll < 0.1:
        target = rng.choice([b"http://example.com:8080", b"HTTP://Example.com", b"https://h"]) + target
    elif roll < 0.12:
        target = b"*" if method == b"OPTIONS" else target
    head = b"%s %s HTTP/%s\r\n" % (method, target, version)
    if rng.random() > 0.03:
        head += b"Host: x\r\n"
    head += b"X-Fuzz-Id: %s\r\n" % rid
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        extra = rng.choice(EXTRA_HEADERS)
        if extra not in (b"X-Fold: a\r\n b\r\n", b"Host: y\r\n") or rng.random() < 0.3:  # refused by the server
            head += extra
    if version == b"1.0" and rng.random() < 0.5:
        head += b"Connection: keep-alive\r\n"
    body = b""
    framing = rng.choice(["none"] * 3 + ["length"] * 4 + ["chunked"] * 3 + ["both", "cl-twice", "cl-diff", "te-odd"]
                         if method not in (b"GET", b"HEAD") or rng.random() < 0.2 else ["none"])
    data = bytes(rng.choice(b"abcxyz\x00\xff") for _ in range(rng.choice([0, 1, 5, 100, 3000])))
    if framing == "length":
        head += b"Content-Length: %d\r\n" % len(data)
        body = data
    elif framing in ("chunked", "both"):
        head += b"Transfer-Encoding: chunked\r\n" + (b"Content-Length: 3\r\n" if framing == "both" else b"")
        ext = rng.choice([b"", b";a=b", b";a=\"q\"", b" ;x"])
        body = (b"%x%s\r\n%s\r\n" % (len(data), ext, data) if data else b"") + b"0\r\n"
        body += rng.choice([b"", b"X-T: 1\r\n", b"X-T: 1\r\nX-U: 2\r\n"]) + b"\r\n"
    elif framing == "cl-twice":
        head += b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(data), len(data))
        body = data
    elif framing == "cl-diff":
        head += b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(data), len(data) + 1)
        body = data
    elif framing == "te-odd":
        head += rng.choice([b"Transfer-Encoding: gzip, chunked\r\n", b"Transfer-Encoding: chunked, gzip\r\n",
                            b"Transfer-Encoding: identity\r\n", b"Transfer-Encoding: Chunked\r\n"])
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data) if data else b"0\r\n\r\n"
    expect = body and rng.random() < 0.2
    if expect:
        head += b"Expect: 100-continue\r\n"
    return head + b"\r\n", body, method, expect


def ws_frame(rng, opcode, payload, fin=True, masked=True, rsv=0):
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    size = bytes([n | (0x80 if masked else 0)]) if n < 126 else (
        struct.pack("!BH", 126 | (0x80 if masked else 0), n) if n < 65536 else struct.pack("!BQ", 255 if masked else 127, n))
    if not masked:
        return bytes([first]) + size + payload
    key = bytes(rng.randrange(256) for _ in range(4))
    return bytes([first]) + size + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def deflated(data):
    """``data`` as a permessage-deflate message's payload (RFC 7692 7.2.1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -9)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def ws_frames(rng):
    choices = [
        lambda: ws_frame(rng, 1, b"hello"), lambda: ws_frame(rng, 2, b"\x00\x01bin"),
        lambda: ws_frame(rng, 1, b"frag", fin=False) + ws_frame(rng, 0, b"ments"),
        lambda: ws_frame(rng, 1, b"fr", fin=False) + ws_frame(rng, 9, b"mid") + ws_frame(rng, 0, b"ag"),
        lambda: ws_frame(rng, 1, b"\xff\xfe bad"), lambda: ws_frame(rng, 1, b"\xe2\x82", fin=False) + ws_frame(rng, 0, b"\xac"),
        lambda: ws_frame(rng, 2, b"x" * (WS_MAX + 1)), lambda: ws_frame(rng, 1, b"unmasked", masked=False),
        lambda: ws_frame(rng, 9, b"ping"), lambda: ws_frame(rng, 10, b"pong"), lambda: ws_frame(rng, 1, b"rsv", rsv=2),
        lambda: ws_frame(rng, 3, b"op3"), lambda: ws_frame(rng, 0, b"cont"), lambda: ws_frame(rng, 1, b"close"),
        lambda: ws_frame(rng, 9, b"p" * 126), lambda: ws_frame(rng, 9, b"p", fin=False),
        lambda: ws_frame(rng, 8, struct.pack("!H", rng.choice([1000, 1001, 4000, 3000, 1005, 1006, 999, 1004, 2000,
                                                               5000, 1015, 1012])) + rng.choice([b"", b"why", b"\xff"])),
        lambda: ws_frame(rng, 8, b""), lambda: ws_frame(rng, 8, b"\x03"),
        # compressed (RSV1): inflated where permessage-deflate was agreed, else a 1002
        lambda: ws_frame(rng, 1, deflated(b"squeezed"), rsv=4),
        lambda: ws_frame(rng, 2, deflated(b"in two")[:2], fin=False, rsv=4) + ws_frame(rng, 0, deflated(b"in two")[2:]),
    ]
    return b"".join(rng.choice(choices)() for _ in range(rng.randint(0, 4)))


def ws_input(rng, rid):
    mode = rng.choice(WS_MODES)
    method = b"GET" if rng.random() > 0.05 else b"POST"
    head = b"%s /ws/%s?q=1 HTTP/1.1\r\nHost: x\r\nX-Fuzz-Id: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" % (
        method, mode.encode(), rid)
    key = rng.choice([base64.b64encode(bytes(rng.randrange(256) for _ in range(16)))] * 8 + [None, b"short", b"=" * 24])
    if key is not None:
        head += b"Sec-WebSocket-Key: %s\r\n" % key
    version = rng.choice([b"13"] * 8 + [None, b"8", b"13, 8"])  # (one line listing two: a 426)
    if version is not None:
        head += b"Sec-WebSocket-Version: %s\r\n" % version
    if rng.random() < 0.4:
        head += rng.choice([b"Sec-WebSocket-Protocol: chat, other\r\n", b"Sec-WebSocket-Protocol: x\r\n"])
    if rng.random() < 0.3:
        head += b"Sec-WebSocket-Extensions: %s\r\n" % rng.choice(
            [b"permessage-deflate; client_max_window_bits", b"x-unknown", b"permessage-deflate",
             b"permessage-deflate; client_no_context_takeover; server_no_context_takeover",
             b"permessage-deflate; server_max_window_bits=10", b"permessage-deflate; client_max_window_bits=9",
             b"permessage-deflate; server_max_window_bits=8", b"x-unknown, permessage-deflate"])
    head += b"\r\n"
    frames = ws_frames(rng)
    steps = [head, frames] if frames and rng.random() < 0.85 else [head + frames]
    return {"kind": "ws", "steps": [s for s in steps if s], "half_close": rng.random() < 0.2, "methods": [method]}


def inputs(seed, count):
    rng = random.Random(seed)
    for n in range(count):
        rid = b"%d-%d" % (seed, n)
        if rng.random() < 0.25:
            item = ws_input(rng, rid)
        else:
            stream, methods, expects = b"", [], []
            for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
                head, body, method, expect = request(rng, rid)
                stream += head + body
                methods.append(method)
                expects.append((len(stream) - len(body), expect))
            cuts = sorted({at for at, expect in expects if expect} | {rng.randrange(1, len(stream))
                                                                      for _ in range(rng.choice([0, 0, 1, 2]))})
            steps = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)]) if stream[a:b]]
            item = {"kind": "http", "steps": steps, "half_close": rng.random() < 0.15, "methods": methods}
        item["id"] = rid.decode()
        yield item
