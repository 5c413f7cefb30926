"""Work that grew far past the input's size, found by measuring a worker's CPU against
hostile and unusual inputs; each bound here is a count (calls, copies), not a time."""

from prefork.http.parser import RequestParser


class Recorder:
    def __init__(self):
        self.heads = []
        self.bodies = []
        self.ends = 0

    def on_headers(self, method, url, version, raw, keep_alive, upgrade):
        self.heads.append(url)

    def on_body(self, body):
        self.bodies.append(bytes(body))

    def on_message_complete(self, trailers):
        self.ends += 1


def test_blank_lines_in_a_content_length_body_do_not_cut_it_into_pieces():
    """A body of ``\\r\\n\\r\\n`` repeated was handed to llhttp cut at each of them (one
    call, one body event per blank line: 250 times the CPU of any other body)."""
    for pattern in (b"xxxx", b"\r\n\r\n"):
        handler = Recorder()
        parser = RequestParser(handler)
        body = pattern * (1 << 18)  # 1 MiB
        data = (b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                + b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        reads = range(0, len(data), 65536)
        for at in reads:
            parser.feed(data[at:at + 65536])
        assert handler.heads == ["/a", "/b"] and handler.ends == 2
        assert b"".join(handler.bodies) == body
        assert len(handler.bodies) <= len(reads), (pattern, len(handler.bodies))
