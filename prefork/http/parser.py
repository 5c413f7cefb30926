"""The request and response parsers (the llhttp driver under them is ``llhttp.py``).

Rules:
- ``RequestParser`` builds Node's ``headers`` map from the raw header list once the head
  is whole (every field, no count cap; an unfinished head holds its raw list alone);
  repeated fields are joined as Node joins them.
  Trailing spaces and tabs of a value are trimmed, as Node trims them. The names
  clients usually send, in their usual spellings, come from a fixed table (str and
  lower-case key) instead of being decoded and lower-cased per field. With
  ``unique_host`` a second Host field is ``ERR_HTTP_DUPLICATE_HOST`` (a 400), as RFC 9112
  3.2 asks of a server; Node keeps the first.
- An HTTP/1.0 request (or version 0.x) is kept alive only on a keep-alive token Node
  honours; after one that is not, a further message is HPE_CLOSED_CONNECTION.
- A message whose last Transfer-Encoding coding is chunked has its chunk-size lines
  tracked (chunk extensions are counted, and trailers bounded, on requests and
  responses alike, as Node's parser does for its server and its client); ``chunked``
  with a tab after it is another coding, as llhttp reads it (a response's body is then
  close-delimited, and not read as chunk-size lines).
- ``ResponseParser`` hands the status code and reason with the head; the reason counts
  against ``max_header_size`` as a request-target does (Node's client counts it).
- The fast path: each whole common head at the front of a read, between messages, one
  after another (HTTP/1.1, GET HEAD POST PUT DELETE OPTIONS or PATCH, a request line with
  single spaces and no line end in its target, no Content-Length, Transfer-Encoding, Upgrade, Proxy-Connection or
  Set-Cookie field, Connection only keep-alive or close and without a tab; a read no
  larger than ``max_header_size``; no ``on_begin`` set) is read without llhttp's
  callbacks: a second llhttp with none checks each (a kept-alive head the same bytes as
  the one it checked last is not read again: from the same state, between messages, it
  reads them to the same end), and what it reads without an error is handed over with the state and the handler calls llhttp's callbacks make (head,
  then end). Between two heads ``hold`` is asked as llhttp.py asks it (True: the rest of
  the read waits in ``held``). From the first head that is not such a head (or that
  llhttp refuses, or after which ``on_begin`` is set or the parser released) the rest of
  the read goes through llhttp as before, its offsets (errors, upgrade) in the whole
  read. After a close, the checking llhttp parses on (it refuses more bytes as llhttp
  does). A handler that raises from such a head has llhttp re-read that head, the same
  call raising, so that the state is what that exception leaves.
"""

import re

import httptools

from .errors import ParseError
from .headers import add_repeated, join_repeated
from .llhttp import MessageParser

__all__ = ["MessageParser", "RequestParser", "ResponseParser"]

_HOST_LINE = re.compile(rb"\nhost[ \t]*:", re.I)  # a Host field's line, after the line end before it
# a request line's version that a log line may hold raw (printable ASCII, no quote or backslash)
_LOG_SAFE = re.compile(rb'[ !#-\[\]-~]*\Z')
# The request fields browsers, curl and proxies send, in the spellings they use: each
# name's str and lower-cased key, looked up instead of made per field (a fixed table: a
# name not in it is decoded as any other)
_KNOWN = {}
for _name in ("Host", "User-Agent", "Accept", "Accept-Language", "Accept-Encoding", "Connection", "Cookie",
              "Referer", "Origin", "Content-Type", "Content-Length", "Cache-Control", "Pragma",
              "Upgrade-Insecure-Requests", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
              "Sec-Fetch-User", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Authorization",
              "If-None-Match", "If-Modified-Since", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
              "X-Real-IP", "X-Request-ID", "Forwarded", "Via", "Transfer-Encoding", "Expect", "Upgrade",
              "DNT", "TE", "Priority"):
    for _spelling in (_name, _name.lower()):
        _KNOWN[_spelling.encode("latin-1")] = (_spelling, _name.lower())
del _name, _spelling
_KEYS = {known[0]: known[1] for known in _KNOWN.values()}  # {usual spelling: lower-case key}
_HOSTS = frozenset(bytes(c - 32 * (m >> i & 1) for i, c in enumerate(b"host")) for m in range(16))  # every case
# The common head, read without llhttp's callbacks (``RequestParser.feed``): a whole head at
# the front of a read or after such heads (no empty field line before its end), HTTP/1.1, one of
# these methods, its request line with single spaces, no field that frames a body or
# upgrades (Connection only keep-alive or close, without a tab). A second llhttp, with no
# callbacks, checks it: what it reads without an error is such a head, as llhttp reads
# it, and one message (no body: no Content-Length, no Transfer-Encoding). After a close,
# that llhttp, which refuses more bytes as llhttp does, parses on in place of the first.
_FAST_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))
_FAST_REFUSED = frozenset(("content-length", "transfer-encoding", "connection", "proxy-connection", "upgrade",
                           "set-cookie", ""))
# the usual spellings of the other usual names: {name: lower-case key}
_FAST_KEYS = {known[0]: known[1] for known in _KNOWN.values() if known[1] not in _FAST_REFUSED}
_NO_CALLBACKS = object()  # (the checking llhttp's protocol)


def _whole_line(data, at, bound):
    """(method, target, version) of the line of ``data`` that holds offset ``at`` when
    it ends (LF, a CR before it dropped) within ``bound`` bytes, as the log can write it:
    ``method SP target SP HTTP/version`` (the method and target any bytes, escaped by the
    log; the version printable); else None."""
    start = data.rfind(b"\n", 0, at) + 1
    end = data.find(b"\n", start, start + bound + 2)
    if end < 0:
        return None  # (not whole, or longer than a head may be)
    line = data[start:end - 1] if data[end - 1:end] == b"\r" and end > start else data[start:end]
    method, _, rest = line.partition(b" ")
    target, http, version = rest.rpartition(b" HTTP/")
    if not method or not http or _LOG_SAFE.match(version) is None:
        return None
    return method.decode("latin-1"), target.decode("latin-1"), version.decode("ascii")


class RequestParser(MessageParser):
    """Also builds Node's ``headers`` map from the raw list once the head is whole:
    ``headers`` holds the current head's map (every field, no count cap) while
    ``on_headers`` runs."""

    kind = 1
    tracks_chunk_lines = True
    headers = None
    _host_seen = False  # (``unique_host``) a Host field was read in this head
    unique_host = False  # True: a second Host field is a parse error (RFC 9112 3.2), not Node's first-wins
    join_all = False  # True: every repeated field is joined (Node's joinDuplicateHeaders)

    # (``fast_heads``, set per parser: False, every read goes to llhttp; see llhttp.py)
    _fast_line = None  # the request line of the last head ``feed`` read itself
    _check = None  # the llhttp that checks such heads (no callbacks)
    _checked = None  # the last kept-alive head it read (its bytes)

    def _make_parser(self):
        return httptools.HttpRequestParser(self)

    def feed(self, data):
        """Each whole common head (see _FAST_METHODS) at the front of a read, between
        messages, is read here as llhttp's callbacks would read it: this parser is left
        as they leave it and the handler called as they call it (its head, then its
        end), without them; between two heads ``hold`` is asked as llhttp.py asks it. The
        first head that is not such a head, and all after it, go to llhttp
        (``MessageParser.feed``, or its pieces from there on: offsets are in the read)."""
        if not self.fast_heads or self.in_message or self.on_begin is not None or \
                len(data) > self.max_header_size > 0:  # (no head in it over the limit then)
            return MessageParser.feed(self, data)
        head, end, rest = data.partition(b"\r\n\r\n")
        if not end:  # no whole head
            return MessageParser.feed(self, data)
        piece = data[:len(head) + 4] if rest else data  # the head's bytes (``rest``: more follow)
        heads = None  # the heads after the first, split once (then ``pos``: where ``piece`` is)
        while True:
            fields = head.decode("latin-1").split("\r\n")
            try:
                method, target, version = fields[0].split(" ")
            except ValueError:  # not three parts
                break
            if version != "HTTP/1.1" or method not in _FAST_METHODS or "\n" in target:
                break  # (a line end in the target: llhttp ends the request line there, HTTP/0.9)
            raw = []
            headers = {}
            keep_alive = True
            for field in fields[1:]:
                name, _, value = field.partition(":")
                value = value.strip(" \t")  # (llhttp drops the leading blanks, on_header the trailing)
                key = _FAST_KEYS.get(name)  # (one lookup: the usual names)
                if key is None:
                    key = name.lower()
                    if key in _FAST_REFUSED:
                        # (an empty name too: llhttp refuses it)
                        token = value.lower()
                        if key != "connection" or "\t" in field or token not in ("keep-alive", "close"):
                            break
                        if token == "close":
                            keep_alive = False
                headers[key] = value
                raw += (name, value)
            else:
                if len(headers) << 1 != len(raw):
                    headers = self._repeated(raw)  # a field repeated
                    if headers is None:
                        break
                # llhttp (strict, as the request parser's) reads the head (see _FAST_METHODS),
                # unless it is the kept-alive head it read last: between messages again, it
                # would read the same bytes to the same end
                if piece != self._checked:
                    check = self._check
                    if check is None:
                        check = self._check = httptools.HttpRequestParser(_NO_CALLBACKS)
                    try:
                        check.feed_data(piece)
                    except (httptools.HttpParserError, httptools.HttpParserUpgrade):
                        self._check = self._checked = None  # (refusing from now on: a fresh one next time)
                        break  # (llhttp reads it, out of the handling of that exception)
                    self._checked = piece if keep_alive else None
                # the state that on_message_begin, on_url, on_header and on_headers_complete leave
                if self._retained_len:
                    self._retained = []
                    self._retained_len = 0
                self.in_message = True
                self.headers_complete = True
                self.body_received = 0  # (_counted and _head_wire are 0 between messages)
                self._declared = None
                self._raw = raw
                self.headers = headers
                self._fast_line = fields[0]
                handler = self._handler
                try:
                    handler.on_headers(method, target, "1.1", raw, keep_alive, False)
                    self.in_message = False  # on_message_complete's
                    if not keep_alive:
                        self._reusable = self.fast_heads = False
                    handler.on_message_complete(None)
                except BaseException as exc:
                    self._replay(piece, _Raising(exc, self.in_message))
                    raise exc from None
                if not keep_alive and self._parser is not None:  # (not released by the handler)
                    # llhttp refuses any more bytes after it: the one that read it parses on
                    self._parser, self._check = check, None  # (_checked: None, a head closing)
                    self._retain(piece)
                if not rest:
                    return None
                if heads is None:
                    pos = len(piece)
                    heads = rest.split(b"\r\n\r\n")  # (its last item: what follows the last head)
                    heads.reverse()
                else:
                    pos += len(piece)
                if self.hold is not None and self.hold():
                    self.held = data[pos:]  # the handler takes no more messages for now
                    return None
                if self.fast_heads and not self.in_message and self.on_begin is None and self._parser is not None:
                    head = heads.pop()
                    if heads:  # (a whole head)
                        piece = data[pos:pos + len(head) + 4]
                        rest = pos + len(piece) != len(data)
                        continue
            break
        return MessageParser.feed(self, data) if heads is None else self._feed_pieces(data, pos)

    def _repeated(self, raw):
        """Node's ``headers`` map of a head with a repeated field (as on_header builds
        it), or None: a second Host refused."""
        headers = {}
        joins = {}
        for i in range(0, len(raw), 2):
            key = raw[i].lower()
            if key in headers:
                if key == "host" and self.unique_host:
                    return None
                add_repeated(headers, key, raw[i + 1], joins, self.join_all)
            else:
                headers[key] = raw[i + 1]
        join_repeated(headers, joins)
        return headers

    def _replay(self, data, stand_in):
        """The handler raised from a head ``feed`` read itself: llhttp reads the head now,
        ``stand_in`` raising from the same call, so that llhttp and this parser are left
        as that exception from llhttp's own callbacks leaves them (refusing any more)."""
        parser = self._parser
        if parser is None:
            return  # released: nothing is fed any more
        handler, raw, headers, on_begin = self._handler, self._raw, self.headers, self.on_begin
        self._handler = stand_in
        self.on_begin = None  # (as it was at the head's first byte)
        self._counting = len(data) >= self.max_header_size
        self._piece = data
        try:
            parser.feed_data(data)
        except httptools.HttpParserError:
            pass
        finally:
            self._handler = handler
            self.on_begin = on_begin
        self._raw = raw
        self.headers = headers
        self.fast_heads = False

    def on_message_begin(self):
        # the request's own reset (the base class's, inlined: this runs per request)
        if self._close_after:
            self._closed()  # (see MessageParser.on_message_begin)
        self.in_message = True
        self.headers_complete = False
        self.body_received = self._body_kept = 0
        self._declared = None
        self._host_seen = False
        self._counted = 0
        self._head_wire = 0
        self._raw = []
        self.headers = {}
        self._url = b""
        self._fast_line = None
        if self.on_begin is not None:
            try:
                self.on_begin()
            except BaseException:
                self.in_message = False  # refused at its first byte: no message was begun
                raise

    def request_line(self, err=None):
        """(method, target, version) of the request being read once its request line was
        read whole, else None: what an access log can say of a request the server
        answered itself (``err``: the ParseError that stopped it, if one did). Before any
        header field came out of llhttp, the line is read from the bytes read (those kept
        of the message, then the read with the error): the line that holds the error (the
        last that starts with the method and target llhttp parsed, once it parsed them),
        when it is whole within ``max_header_size`` bytes (see _whole_line)."""
        if self.in_message and self._fast_line is not None:  # (a head read without llhttp's callbacks)
            method, target, _ = self._fast_line.split(" ")
            return method, target, "1.1"
        url = self._url if self.in_message else b""
        if url and (self._raw or self.headers_complete):
            parser = self._parser
            return parser.get_method().decode("ascii"), url.decode("latin-1"), parser.get_http_version()
        seen = self._kept(self._retained or ()) if self.in_message else b""
        if err is not None and err.raw_packet is not None and err.bytes_parsed is not None:
            at = len(seen) + err.bytes_parsed
            seen += err.raw_packet
        elif not url:
            return None
        else:
            seen += self._piece
            at = len(seen)
        if url:  # (the target holds no line end: each search goes back past the last; llhttp
            # may have handed over the target up to a byte it refused: no space after it then)
            start = self._parser.get_method() + b" " + url
            while True:
                at = seen.rfind(start, 0, at)
                if at < 0:
                    return None
                if at == 0 or seen[at - 1] == 10:  # at a line's start
                    break
        bound = self.max_header_size
        return _whole_line(seen, at, bound if bound > 0 else len(seen))

    def on_url(self, url):
        counted = self._counted + len(url)
        self._counted = counted
        if counted >= self.max_header_size > 0:
            self._count(0)
        self._url += url

    def on_header(self, name, value):
        if self._counting:  # (see feed)
            counted = self._counted + len(name) + len(value)
            self._counted = counted
            if counted >= self.max_header_size > 0:
                self._count(0)
        if self.headers_complete:
            self._trailer(name, value)
            return
        # llhttp drops leading OWS; Node trims the trailing OWS itself
        stripped = value.rstrip(b" \t")
        if stripped is not value and b"\t" in value:
            self._blank_after_value(name, value)
        known = _KNOWN.get(name)  # (the name as str) of a usual field: no decoding
        self._raw += (name.decode("latin-1") if known is None else known[0], stripped.decode("latin-1"))
        if self.unique_host and name in _HOSTS:  # (no call per field)
            if self._host_seen:
                self._two_hosts()
            self._host_seen = True

    def _header_map(self, raw):
        """Node's ``headers`` map of a head's raw list (built once the head is whole: an
        unfinished head holds its raw list alone)."""
        headers = {}
        joins = None
        for name, value in zip(raw[::2], raw[1::2]):
            key = _KEYS[name] if name in _KEYS else name.lower()  # (a usual name: no call)
            if key in headers:
                if joins is None:
                    joins = {}
                add_repeated(headers, key, value, joins, self.join_all)
            else:
                headers[key] = [value] if key == "set-cookie" else value
        if joins is not None:
            join_repeated(headers, joins)
        return headers

    def _two_hosts(self):
        """A second Host field, refused (``unique_host``): at its line's start in the
        bytes being parsed when it is there (else at their start)."""
        found = [m.start() + 1 for m in _HOST_LINE.finditer(self._piece)]
        self._error = ParseError("ERR_HTTP_DUPLICATE_HOST", "Duplicate Host header",
                                 found[1] if len(found) > 1 else 0)
        raise self._error

    def _trailer(self, name, value):
        if self._trailers is None:
            self._trailers = []
        self._trailers += (name.decode("latin-1"), value.rstrip(b" \t").decode("latin-1"))

    def on_headers_complete(self):
        self.headers_complete = True
        self._counted = 0
        self.headers = self._header_map(self._raw)
        coding = self.headers.get("transfer-encoding")
        if coding is not None:
            # llhttp: chunked when the last coding of the last field is chunked (the map
            # joins repeated fields in order, so its last coding is the last field's)
            self._body_lines = coding.rsplit(",", 1)[-1].strip(" \t").lower() == "chunked"
        parser = self._parser
        version = parser.get_http_version()
        keep_alive = parser.should_keep_alive()
        if keep_alive and (version[-1] == "0" or version[0] == "0") and not self._node_keeps_alive():
            keep_alive = False
            self._close_after = True
            self.fast_heads = False
        self._handler.on_headers(parser.get_method().decode("ascii"), self._url.decode("latin-1"),
                                 version, self._raw, keep_alive, parser.should_upgrade())


class _Raising:
    """Stands for a handler while llhttp re-reads a head (``RequestParser._replay``): the
    call that raised (``on_headers``, else ``on_message_complete``) raises again."""

    def __init__(self, exc, in_head):
        self.exc = exc
        self.in_head = in_head

    def on_headers(self, *head):
        if self.in_head:
            raise self.exc

    def on_message_complete(self, trailers):
        raise self.exc


class ResponseParser(MessageParser):
    """The status text counts against ``max_header_size`` as the request-target does."""

    kind = 2
    tracks_chunk_lines = True

    def _make_parser(self):
        return httptools.HttpResponseParser(self)

    def on_message_begin(self):
        self._status = b""
        super().on_message_begin()

    def on_status(self, status):
        counted = self._counted + len(status)
        self._counted = counted
        if counted >= self.max_header_size > 0:
            self._count(0)
        self._status += status

    # the message's body is read as chunks (``chunked`` its last coding, as llhttp reads the
    # head: ``chunked`` then a tab is another coding, the body close-delimited)
    chunked = False

    def on_headers_complete(self):
        self._after_head()
        self.chunked = self._body_lines  # (set for this head by _after_head)
        parser = self._parser
        version = parser.get_http_version()
        keep_alive = parser.should_keep_alive()
        if keep_alive and (version[-1] == "0" or version[0] == "0") and not self._node_keeps_alive():
            keep_alive = False  # (the request's rule: Node ignores a keep-alive token before a tab)
        self._handler.on_headers(parser.get_status_code(), self._status.decode("latin-1"), version, self._raw,
                                 keep_alive, parser.should_upgrade())
