"""The server fuzz's known differences (tests/fuzz_server_node.py): the rules that name
why prefork's outcome for an input may differ from Node's (docs/node-compat.md's
deviations, docs/parser-notes.md), each matching only what it names."""

import re

import httptools

from prefork.http.errors import ParseError
from prefork.http.parser import RequestParser

# a Connection or Proxy-Connection value (as llhttp hands it over: leading blanks dropped)
# whose close or upgrade token, first or after a comma, ends in a tab (spaces may come
# between): the tokens llhttp's two versions read differently (a tab anywhere else, after
# keep-alive, or a token after another word and a blank, is read alike, and prefork
# follows Node there)
_TAB_TOKEN = re.compile(rb"(?i)(?:[^\r\n]*,)?[ \t]*(close|upgrade) *\t")
_EMPTY_TE = re.compile(rb"(?im)^transfer-encoding:[ \t]*\r?$")
_STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ")


def _codes(outcome):
    """Parse error codes: clientError's, and Node's socket error observer's."""
    return [e[1][1] for e in outcome.events if e[0] == "clientError" and len(e) > 1 and e[1][0] == "code"] + \
        list(outcome.errors)


def _bytes_after_last_request(data):
    """True when prefork's parser, fed the whole stream, finds bytes after a request
    that forbids reuse."""
    parser = RequestParser(_Discard(), 16384)
    try:
        while True:
            offset = parser.feed(data)
            if offset is None:
                return False
            data = data[offset:]  # an upgrade: what follows is parsed anew
            parser = RequestParser(_Discard(), 16384)
    except ParseError as err:
        return err.code == "HPE_CLOSED_CONNECTION"


def _parse_error(data):
    """The code of the error prefork's parser stops at in ``data`` (None: none or a tunnel)."""
    try:
        RequestParser(_Discard(), 16384).feed(data)
    except ParseError as err:
        return err.code
    return None


def _refusal_codes(data, ours, config):
    """The parse error codes prefork told (clientError events, X-Client-Error replies);
    unlistened, a connection ended with the canned 400 tells its parser's error."""
    told = _codes(ours) + [b.decode() for b in re.findall(rb"X-Client-Error: (\S+)", ours.data)]
    if told or "clientError" not in (config or {}).get("unlisten", ()):
        return told
    written = responses(ours)
    if ours.closed and written and written[-1] == b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n":
        return [_parse_error(data)]
    return []


class _Discard:
    def on_message_begin(self):
        pass

    def on_headers(self, *head):
        pass

    def on_body(self, body):
        pass

    def on_message_complete(self, trailers):
        pass


def _names(outcome):
    return [e[0] for e in outcome.events]


_RESPONSE_START = re.compile(rb"(?=HTTP/1\.1 \d{3} )")
_ERROR_REPLY = re.compile(rb"HTTP/1\.1 (400|408|413|431) [^\r\n]*\r\n(X-Client-Error: [^\r\n]*\r\n)?")


def responses(outcome):
    """The server's bytes cut where status lines start (the routes' bodies hold none)."""
    return [r for r in _RESPONSE_START.split(outcome.masked) if r]


def _is_error_reply(response):
    """The canned reply to a parse error, or the reference clientError listener's."""
    return bool(_ERROR_REPLY.match(response)) and b"Date: " not in response


def _closes(response):
    """The response ends the connection: it says so, or its body is close-delimited."""
    head = response.split(b"\r\n\r\n", 1)[0].lower()
    if b"\r\nconnection: close" in head:
        return True
    status = int(head[9:12])
    return not (status < 200 or status in (204, 304) or b"\r\ncontent-length:" in head or
                b"\r\ntransfer-encoding:" in head)


def _says_close(response):
    """The response's head says ``Connection: close`` (whatever the request's method: a
    HEAD response's framing cannot be told from its bytes)."""
    return b"\r\nconnection: close" in response.split(b"\r\n\r\n", 1)[0].lower()


def _leads(theirs, mine):
    """``theirs`` are ``mine``'s first responses, the last of them perhaps cut short."""
    if len(theirs) > len(mine):
        return False
    if not theirs:
        return True
    return theirs[:-1] == mine[:len(theirs) - 1] and mine[len(theirs) - 1].startswith(theirs[-1])


def _without_finish(outcome):
    return [e for e in outcome.events if e[0] != "res.finish"]


def _error_told_once(events):
    """``events`` without a ``clientError`` that repeats the one just before it: Node's
    parser keeps its error, and a read that lands before Node's connection closes is
    parsed again into the same ``clientError`` (its listener then destroys the socket);
    prefork reads nothing after a parse error."""
    kept = []
    for event in events:
        if not (event[0] == "clientError" and kept and kept[-1] == event):
            kept.append(event)
    return kept


_UPGRADE = re.compile(rb"(?im)^upgrade:")
_CONNECTION_UPGRADE = re.compile(rb"(?im)^connection:[^\r\n]*upgrade")


_TUNNEL_REPLY = re.compile(rb"HTTP/1\.1 (?:200 Connection Established|101 Switching Protocols)\r\n")


def _tunnel_inside(theirs, mine):
    """Node's bytes are prefork's with one tunnel (its reply and what followed, up to
    where prefork's bytes go on) cut in somewhere: Node handed the connection over
    mid-response, prefork did not."""
    for found in _TUNNEL_REPLY.finditer(theirs):
        start = found.start()
        rest = len(mine) - start
        if 0 <= rest <= len(theirs) - start and theirs[:start] == mine[:start] and \
                theirs[len(theirs) - rest:] == mine[start:]:
            return True
    return False


def _requests_past_closing_response(node, ours):
    """Node's events are prefork's and then 'request' events alone, prefork's last
    response closing the connection: node-compat deviation 5, prefork dispatches no
    request behind that response; Node does (their responses lost to the FIN)."""
    mine, theirs = _without_finish(ours), _without_finish(node)
    written = responses(ours)
    return bool(written) and _closes(written[-1]) and len(theirs) > len(mine) and \
        theirs[:len(mine)] == mine and all(e[0] == "request" for e in theirs[len(mine):])


class _Ends:
    ended = False

    def on_message_complete(self):
        self.ended = True


def _framing(response):
    """"whole" when ``response`` is exactly one well-framed response, "open" when it is the
    start of one (cut, or close-delimited), None when llhttp refuses it or bytes follow
    its end."""
    ends = _Ends()
    parser = httptools.HttpResponseParser(ends)
    try:
        for at in range(len(response)):
            if ends.ended:
                return None
            parser.feed_data(response[at:at + 1])
    except httptools.HttpParserError:
        return None
    return "whole" if ends.ended else "open"


def _response_cut_inside_tunnel(theirs, mine):
    """``mine`` is one whole response then a tunnel (its reply and what followed);
    ``theirs`` is that tunnel with the start of that response, its head at least, written
    somewhere inside it: Node handed the connection over while the response was pending
    and wrote what it had of it into the tunnel (its head in one write; the client's FIN
    then ended the socket before the rest)."""
    found = _TUNNEL_REPLY.search(mine)
    if found is None or found.start() == 0:
        return False
    response, tunnel = mine[:found.start()], mine[found.start():]
    if _framing(response) != "whole":
        return False
    head = response[:response.find(b"\r\n\r\n") + 4]
    cut = len(theirs) - len(tunnel)
    if not len(head) <= cut <= len(response):
        return False
    at = theirs.find(head)
    while at >= 0:
        if theirs[:at] + theirs[at + cut:] == tunnel and theirs[at:at + cut] == response[:cut]:
            return True
        at = theirs.find(head, at + 1)
    return False


class _Heads:
    """The target and fields of each request head llhttp reads whole, as it hands them
    over."""

    def __init__(self):
        self.heads = []
        self.fields = []
        self.url = b""

    def on_message_begin(self):
        self.fields = []
        self.url = b""

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.fields.append((name.lower(), value))

    def on_headers_complete(self):
        self.heads.append((self.url, self.fields))
        self.fields = []  # (a trailer's fields are no head's)


def _first_tab_token(data):
    """(heads before it, its target, token, whether it asks for an upgrade) of the first
    request head prefork's parser reads whole with a close or upgrade token ending in a
    tab, or None (a close token ends prefork's parsing, an upgrade one too where an Upgrade
    field asks for one: no head after it counts; an upgrade token without it changes nothing)."""
    found = _Heads()
    try:
        httptools.HttpRequestParser(found).feed_data(data)
    except (httptools.HttpParserUpgrade, httptools.HttpParserError):
        pass
    for n, (url, fields) in enumerate(found.heads):
        asks_upgrade = any(field == b"upgrade" for field, _ in fields)
        for name, value in fields:
            token = _TAB_TOKEN.match(value) if name in (b"connection", b"proxy-connection") else None
            if token is not None and (asks_upgrade or token.group(1).lower() == b"close"):
                return n, url.decode("latin-1"), token.group(1).lower(), asks_upgrade
    return None


_PER_REQUEST = ("request", "upgrade", "connect", "checkContinue", "checkExpectation", "dropRequest")


def _url(event):
    return dict(event[1:]).get("url")


_KEPT_ALIVE = re.compile(rb"\r\nConnection: keep-alive\r\n(?:Keep-Alive: [^\r\n]*\r\n)?")


def _as_closing(response):
    """``response`` as the server writes it when it closes the connection after it."""
    return _KEPT_ALIVE.sub(b"\r\nConnection: close\r\n", response, 1)


def _tab_token_difference(data, half_close, node, ours):
    """parser-notes "Tabs after Content-Length and Connection values", and only that:
    prefork dispatches nothing after the first head with a close (or, with an Upgrade
    field, upgrade) token ending in a tab; up to there both servers agree; prefork then
    closes after its last response, which is Node's but with ``Connection: close`` (or
    hands that request over as an upgrade where Node answered it), while Node keeps the
    connection (parsing on; after the client's FIN, deviation 3, Node may end the socket
    with that response cut short)."""
    found = _first_tab_token(data)
    if found is None:
        return False
    n, url, token, asks_upgrade = found
    mine, theirs = _without_finish(ours), _without_finish(node)
    at = [i for i, e in enumerate(mine) if e[0] in _PER_REQUEST]
    if len(at) > n + 1:
        return False
    if token == b"close":
        written, answered = responses(ours), responses(node)
        count = len(written)
        if not (ours.closed and theirs[:len(mine)] == mine and count >= 1 and len(answered) >= count and
                written[:-1] == answered[:count - 1]):
            return False
        closing = _as_closing(answered[count - 1])
        return closing != answered[count - 1] and (written[-1] == closing or
                                                   half_close and len(answered) == count and written[-1].startswith(closing))
    # (heads before it that the server answers itself have no event)
    if not asks_upgrade or not at or at[-1] != len(mine) - 1 or _url(mine[-1]) != url or \
            mine[:at[-1]] != theirs[:at[-1]]:
        return False
    k = at[-1]
    # Node dispatches it as a request, or answers it itself (a 400 for a missing Host,
    # which an upgrade skips)
    if mine[k][0] not in ("upgrade", "request") or len(theirs) > k and theirs[k][0] in _PER_REQUEST and \
            (theirs[k][0] != "request" or _url(mine[k]) != _url(theirs[k])):
        return False
    tunnel = _TUNNEL_REPLY.search(ours.masked) if mine[k][0] == "upgrade" else None
    if tunnel is not None:
        before = ours.masked[:tunnel.start()]
    else:
        before = b"".join(responses(ours)[:-1])
    if node.masked.startswith(before):
        return True
    # Node (no upgrade there) parsed on into a parse error whose reply replaced the
    # responses not written yet (deviation 7): that reply alone, closed; prefork's before
    # the tunnel answer the requests before, one each
    answered = responses(node)
    asked = sum(1 for e in mine[:k] if e[0] == "request")
    return node.closed and len(theirs) > k and theirs[k][0] == "request" and len(answered) == 1 and \
        _is_error_reply(answered[0]) and len(_RESPONSE_START.split(before)) - 1 == asked


def _pri_destroyed_before_an_error(node, ours):
    """prefork's events end at a PRI request, Node's go on with clientErrors alone, and
    Node's bytes are prefork's then at most its error reply."""
    mine = _without_finish(ours)
    if not (ours.closed and node.closed and mine and mine[-1][:2] == ("request", ("method", "PRI"))):
        return False
    theirs = _without_finish(node)
    extra = node.masked[len(ours.masked):]
    return theirs[:len(mine)] == mine and len(theirs) > len(mine) and \
        all(e[0] == "clientError" for e in theirs[len(mine):]) and node.masked.startswith(ours.masked) and \
        (not extra or _is_error_reply(extra))


def _error_parsed_on(node, ours, config):
    """Node parsed on past prefork's last event into a parse error (its clientError
    listener's event, or, with no listener, the error its socket saw: Node's own handler
    destroys a connection whose response head is out), which cut prefork's last response
    or, when Node parsed nothing else first, dropped it unwritten: Node's bytes end
    inside it (at its start: Node's events after prefork's are clientErrors alone), it is
    no error reply, no response before it closes the connection, and nothing follows its
    end (no status line, no other byte)."""
    extra = _names(node)[len(_without_finish(ours)):]
    if "clientError" not in extra and \
            not ("clientError" in (config or {}).get("unlisten", ()) and
                 any(code.startswith("HPE_") for code in node.errors)):
        return False
    written = responses(ours)
    if not written or _is_error_reply(written[-1]) or any(_says_close(r) for r in written[:-1]) or \
            not ours.masked.startswith(node.masked):
        return False
    start = len(ours.masked) - len(written[-1])
    inside = start < len(node.masked) < len(ours.masked) or \
        start == len(node.masked) and all(name in ("clientError", "res.finish") for name in extra)
    return inside and _framing(written[-1]) is not None


def known_difference(case, node, ours, config=None):
    """The name of a documented difference that explains why ``ours`` is not ``node``'s
    outcome for ``case`` (run with the reference server ``config``), or None (a finding)."""
    reads, data, half_close = case
    if _tab_token_difference(data, half_close, node, ours):
        # parser-notes "Tabs after Content-Length and Connection values": Node ignores a
        # Connection token followed by a tab (close<TAB>, upgrade<TAB>); llhttp reads it
        return "connection-token-then-tab"
    if _EMPTY_TE.search(data) and "HPE_INVALID_TRANSFER_ENCODING" in _refusal_codes(data, ours, config):
        # parser-notes "Empty Transfer-Encoding": refused by prefork, accepted by Node
        return "empty-transfer-encoding"
    theirs, mine = responses(node), responses(ours)
    if ours.closed and ("HPE_CLOSED_CONNECTION" in _codes(node) or _bytes_after_last_request(data)):
        answered = theirs[:-1] if theirs and _is_error_reply(theirs[-1]) else theirs
        if _leads(answered, mine) and not any(_is_error_reply(r) for r in mine[len(answered):]):
            # node-compat deviation 1: bytes after a request that forbids reuse; Node
            # answers them with a 400, which may replace responses not yet written or
            # cut one being written; prefork sends the responses and drops the bytes
            return "bytes-after-connection-close"
    if "upgrade" in (config or {}).get("unlisten", ()) and _UPGRADE.search(data) and \
            _CONNECTION_UPGRADE.search(data) and \
            (_leads(theirs, mine) or _leads(mine, theirs) or
             mine and _is_error_reply(mine[-1]) and _leads(mine[:-1], theirs)):
        # node-compat deviation 2: with no upgrade listener, Node drops what follows an
        # upgrade request's head in the same read; prefork parses on (more responses, or
        # an error that ends the connection early)
        return "unlistened-upgrade-parses-on"
    if half_close and ours.closed and ours.masked.startswith(node.masked) and \
            (_without_finish(ours)[:len(_without_finish(node))] == _without_finish(node) or
             _requests_past_closing_response(node, ours)):
        # node-compat deviation 3: after the client's FIN prefork still sends the
        # responses pending; Node ends the socket at once and they are lost (with
        # deviation 5: Node may also have dispatched requests behind a response that
        # closes the connection, which prefork does not)
        return "responses-after-client-fin"
    names = _names(node)
    if ("connect" in names or "upgrade" in names) and sorted(node.events) == sorted(ours.events) and \
            sorted(node.masked) == sorted(ours.masked) and node.closed == ours.closed:
        # node-compat deviation 6: a CONNECT or listened upgrade behind a response still
        # pending is handed over once that response is out; Node emits it at once and
        # its tunnel's bytes come before that response (same events and bytes, in
        # another order)
        return "response-before-hand-over"
    if half_close and ("connect" in names or "upgrade" in names) and ours.closed and node.closed and \
            sorted(_without_finish(node)) == sorted(_without_finish(ours)) and \
            _response_cut_inside_tunnel(node.masked, ours.masked):
        # node-compat deviations 6 and 3: prefork hands over once the pending response is
        # out; Node at once, writing that response into the tunnel, where the client's
        # FIN ends the socket before the rest of it (and its 'finish')
        return "response-before-hand-over"
    if ("connect" in names or "upgrade" in names) and "connect" not in _names(ours) and \
            "upgrade" not in _names(ours) and ours.closed and mine and _closes(mine[-1]) and \
            (all(r in node.masked for r in mine) or _tunnel_inside(node.masked, ours.masked)):
        # node-compat deviation 6: a response that closes the connection means no
        # hand-over to a CONNECT or upgrade pipelined behind it; Node hands over at once
        # (its tunnel's bytes may then land inside that response, after a flushed head)
        return "no-hand-over-after-closing-response"
    if _pri_destroyed_before_an_error(node, ours):
        # node-compat deviation 13: prefork destroys a PRI request's connection right
        # after its 'request', so the bytes after it in that read are never parsed; Node
        # parses them first, and a parse error there is its clientError (not a destroy)
        return "pri-destroyed-before-parse-error"
    answered = theirs[:-1] if theirs and _is_error_reply(theirs[-1]) else theirs
    if node.closed and ours.closed and len(mine) > len(answered) and _leads(answered, mine) and \
            not any(_is_error_reply(r) for r in mine[len(answered):]) and not any(_says_close(r) for r in mine[:-1]) and \
            _error_told_once(_without_finish(node)) == _without_finish(ours):
        # node-compat deviation 7: a request answered on its 'end' is answered before a
        # malformed request that follows in the same read; Node emits that 'end' on the
        # next tick, after its clientError reply (or its destroy, when a response
        # before it is on the socket) closed the connection (and a read landing before
        # that close repeats Node's clientError: _error_told_once)
        return "end-before-error-in-same-read"
    if ours.closed and mine and _closes(mine[-1]) and \
            _without_finish(node)[:len(_without_finish(ours))] == _without_finish(ours) and \
            (node.masked.startswith(ours.masked) or
             theirs and _is_error_reply(theirs[-1]) and mine[:len(theirs) - 1] == theirs[:-1] or
             _error_parsed_on(node, ours, config)):
        # node-compat deviation 5: nothing is read or written after a response that
        # closes the connection; Node parses on (more events, more bytes), and when what
        # follows is malformed, its error reply can replace a response whose 'end' it
        # emits on the next tick (deviation 7), or its clientError listener's destroy
        # (unlistened, its own) cuts a response still being sent
        return "nothing-after-final-response"
    return None


def pending_fix(case, node, ours):
    """The name of a finding whose fix lies outside the server's code (reported, with the
    change it needs, until that fix is in), or None."""
    # (none now: a response written whole before a clientError listener's destroy
    # finishes, tests/test_finish_before_destroy.py)
    return None
