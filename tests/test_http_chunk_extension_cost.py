"""A chunk-size line with extensions costs the parser about what a line without them
costs, however many names, ``;``, ``=`` and values it holds. Each bound is a count
(Python lines run in http/chunks.py), not a time.

Rules under test: http/chunks.py (a line whose extensions lie in the read is jumped over
with one regex match, its extension bytes counted at once; a line that would overflow,
or that a read cuts, is walked span by span, so Node's offsets stay the same). Before,
every name, ``;``, ``=`` and value was a step of the walk in Python: a body of
``1;a=b;c=d`` chunks kept a worker busy three times as long as Node.
"""

import random

from prefork.http.errors import ParseError, extensions_overflow
from prefork.http.parser import RequestParser
from test_http_junk_pieces import lines_run_in

READ = 64 << 10
LIMIT = 16 * 1024  # Node's kMaxChunkExtensionsSize
HEAD = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


class Recorder:
    def __init__(self):
        self.body = 0
        self.ends = 0

    def on_headers(self, *head):
        pass

    def on_body(self, body):
        self.body += len(body)

    def on_message_complete(self, trailers):
        self.ends += 1


def lines_run_in_chunks(data, read=READ):
    """Feeds ``data`` in reads of ``read`` bytes; returns (Python lines run in
    http/chunks.py, the handler)."""
    handler = Recorder()
    return lines_run_in("/http/chunks.py", RequestParser(handler), data, read), handler


def test_long_extension_lines_cost_less_than_a_line_run_per_eight_bytes():
    # short names and values, plain and quoted ('; = \\ "' inside quotes), just under the
    # limit per line: a step per span would run several lines per byte
    ext = b';a=b;cd;e="f;g=\\"h";i=jk'
    line = b"2" + ext * ((LIMIT - 100) // len(ext)) + b"\r\nzz\r\n"
    body = line * 24 + b"0\r\n\r\n"
    lines, handler = lines_run_in_chunks(HEAD + body)
    assert handler.ends == 1 and handler.body == 2 * 24
    assert lines < len(body) // 8, f"{lines} lines of chunks.py for {len(body)} body bytes"


def test_a_line_with_extensions_costs_about_what_a_plain_line_costs():
    count = 20_000
    plain, handler = lines_run_in_chunks(HEAD + b"1\r\nz\r\n" * count + b"0\r\n\r\n")
    assert handler.body == count and handler.ends == 1
    with_exts, handler = lines_run_in_chunks(HEAD + b'1;a=b;c=d;e="f"\r\nz\r\n' * count + b"0\r\n\r\n")
    assert handler.body == count and handler.ends == 1
    assert with_exts < 1.5 * plain, f"{with_exts} lines with extensions, {plain} without"


def test_a_line_cut_by_reads_costs_no_step_per_extension():
    # every read ends inside a line: the rest of the line, from a name on, is still one jump
    ext = b";ab=cd"
    line = b"1" + ext * 2000 + b"\r\nz\r\n"
    body = line * 20 + b"0\r\n\r\n"
    lines, handler = lines_run_in_chunks(HEAD + body, read=5003)
    assert handler.ends == 1 and handler.body == 20
    assert lines < len(body) // 8, f"{lines} lines of chunks.py for {len(body)} body bytes"


def feed(pieces):
    parser = RequestParser(Recorder())
    fed = 0
    for piece in pieces:
        try:
            parser.feed(piece)
        except ParseError as err:
            return err.code, fed + err.bytes_parsed
        fed += len(piece)
    return None


def test_the_overflow_after_whole_lines_is_at_nodes_offset():
    # lines that fit, then one that passes the limit (names, plain and quoted values with
    # ';' and '=' inside), in one read or cut at random: the offset llhttp's replay gives
    rng = random.Random(11)
    for _ in range(60):
        lines = []
        for _ in range(rng.randint(1, 4)):
            budget = rng.choice([LIMIT - 1, LIMIT, LIMIT + 1, LIMIT + 7, 40])
            exts = []
            while budget > 0:
                n = rng.randint(0, min(budget, rng.choice([3, 50, 5000])))
                budget -= n
                kind = rng.random()
                if kind < 0.3:
                    exts.append(b";" + b"n" * n)
                elif kind < 0.6:
                    exts.append(b";" + b"k" * rng.randint(0, 2) + b"=" + b"v" * n)
                else:
                    inner = b"q" * max(0, n - 2)
                    if rng.random() < 0.5:
                        inner = inner[:len(inner) // 2] + b'\\";=' + inner[len(inner) // 2:]
                    exts.append(b';k="' + inner + b'"')
            lines.append(b"1" + b"".join(exts) + b"\r\nd\r\n")
        data = HEAD + b"".join(lines) + b"0\r\n\r\n"
        cuts = sorted(rng.sample(range(1, len(data)), rng.choice([0, 0, 1, 3])))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        expected = None
        seen = b""
        for piece in pieces:  # the replay, read by read, from the message start
            seen += piece
            offset = extensions_overflow(seen, LIMIT)
            if offset is not None:
                expected = ("HPE_CHUNK_EXTENSIONS_OVERFLOW", offset)
                break
        assert feed(pieces) == expected, [len(p) for p in pieces]
