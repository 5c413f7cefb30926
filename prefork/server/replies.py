"""The server's own replies (the canned 400, 408, 413 or 431 to a parse error or a
timeout), and answers written raw on a socket that left HTTP (a WebSocket session's),
as the access log reads a request and its response.

Rules:
- One ``ServerReply`` stands for both the request and the response: the fields the
  access log reads (``socket``, ``method``, ``url``, ``http_version``, ``headers``,
  ``forwarded_client``, ``status_code``, ``bytes_sent``, ``has_body``, ``get_header``),
  and ``answer``, how the metrics count it: None for the canned reply to a parse error
  or timeout (a client error, not a response); ``"timed"`` for an answer to a parsed
  request written raw, seen as it is written (``answered``: a response, in the duration
  histogram); ``"untimed"`` for a WebSocket handshake's answer, seen at the session's
  close (a response; its duration, to the close, is no response time).
- What was read of the request is reported, no more: the parsed head when it was complete,
  the request line alone when only it was, else ``-`` for the request line and for
  each of its parts; a PROXY header's line (http/proxyline.py) has no HTTP version ("").
  A plain HTTP request to a TLS port gives its line and, when its head was whole in the
  bytes the TLS layer kept, its fields (``headers``: net/plainhttp.py).
- The canned reply has no body: its size is ``-``. A raw answer gives the bytes it
  sent after its head (``sent``; 0 is ``-``): ``refuse``'s text, a session's frames.
- A response its connection cut is observed as a ``CutResponse``: the response's own
  fields, with the status and body bytes the access log says.
- ``refuse`` answers a request on a socket the server handed over (a CONNECT an app
  interface cannot tunnel) with a short text, closes the socket once it is out, and
  shows the answer to ``server.reply_observer``.
"""

from time import monotonic

from ..http.serialize import http_date, status_line

_NO_HEADERS = {}


class ServerReply:
    __slots__ = ("socket", "method", "url", "http_version", "headers", "status_code", "bytes_sent", "forwarded_client",
                 "answer")
    has_body = False

    def __init__(self, socket, status, req=None, request_line=None, sent=0, answer=None, headers=None):
        self.socket = socket
        self.answer = answer
        self.status_code = status
        self.bytes_sent = sent
        self.headers = _NO_HEADERS if headers is None else headers
        self.forwarded_client = None
        if req is not None:  # the head was read
            self.method, self.url, self.http_version, self.headers = req.method, req.url, req.http_version, req.headers
            self.forwarded_client = req.forwarded_client
        elif request_line is not None:
            self.method, self.url, self.http_version = request_line
        else:
            self.method = self.url = self.http_version = "-"

    def request_text(self, url):
        """The request line for the log (``url`` as the log escaped it), ``-`` if unread."""
        if self.http_version == "-":
            return "-"
        if not self.http_version:  # a line with no HTTP version (a PROXY header's)
            return f"{self.method} {url}"
        return f"{self.method} {url} HTTP/{self.http_version}"

    def get_header(self, name):
        return None


class CutResponse:
    """A response its connection cut, as the response observer sees it: the response's
    own fields (a custom observer reads any), but the status and body bytes the access
    log says (``unanswered``'s 499/444; the body bytes the kernel took), and no
    Content-Length to stand in for a size (``{b}`` is ``-`` when none went out)."""

    __slots__ = ("response", "status_code", "bytes_sent")
    has_body = False

    def __init__(self, response, status, sent):
        self.response = response
        self.status_code = status
        self.bytes_sent = sent

    def get_header(self, name):
        return None if name.lower() == "content-length" else self.response.get_header(name)

    def __getattr__(self, name):
        return getattr(self.response, name)


def refuse(server, req, socket, status, text):
    body = text.encode("ascii") + b"\n"
    socket.write(f"{status_line(status)}Date: {http_date()}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("ascii") + body)
    socket.destroy_soon()  # closed once sent, whether or not the client closes its side
    answered(server, req, socket, status, len(body))


def answered(server, req, socket, status, sent=0):
    """The access log line of ``status`` (and ``sent`` body bytes), written raw on a
    socket the server handed over."""
    observer = server.reply_observer
    if observer is not None:
        reply = ServerReply(socket, status, req, sent=sent, answer="timed")
        observer(reply, reply, monotonic() - req.start_time)
