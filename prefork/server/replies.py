"""The server's own replies (the canned 400, 408, 413 or 431 to a parse error or a
timeout), and answers written raw on a socket that left HTTP (a WebSocket session's),
as the access log reads a request and its response.

Rules:
- One ``ServerReply`` stands for both the request and the response: the fields the
  access log reads (``socket``, ``method``, ``url``, ``http_version``, ``headers``,
  ``status_code``, ``bytes_sent``, ``has_body``, ``get_header``), nothing else.
- What was read of the request is reported, no more: the parsed head when it was complete,
  the request line alone when only it was, else ``-`` for the request line and for
  each of its parts.
- The canned reply has no body: its size is ``-``. A raw answer gives the bytes it
  sent after its head (``sent``; 0 is ``-``).
"""

_NO_HEADERS = {}


class ServerReply:
    __slots__ = ("socket", "method", "url", "http_version", "headers", "status_code", "bytes_sent")
    has_body = False

    def __init__(self, socket, status, req=None, request_line=None, sent=0):
        self.socket = socket
        self.status_code = status
        self.bytes_sent = sent
        self.headers = _NO_HEADERS
        if req is not None:  # the head was read
            self.method, self.url, self.http_version, self.headers = req.method, req.url, req.http_version, req.headers
        elif request_line is not None:
            self.method, self.url, self.http_version = request_line
        else:
            self.method = self.url = self.http_version = "-"

    def request_text(self, url):
        """The request line for the log (``url`` as the log escaped it), ``-`` if unread."""
        if self.http_version == "-":
            return "-"
        return f"{self.method} {url} HTTP/{self.http_version}"

    def get_header(self, name):
        return None
