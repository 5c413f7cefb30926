"""The server fuzz's known-difference rules match only what they name."""

from fuzz_server_known import _tunnel_inside, known_difference
from fuzz_server_node import Outcome

HEAD = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: close\r\n\r\n"
TUNNEL = b"HTTP/1.1 200 Connection Established\r\n\r\nhello"


def test_a_tunnel_node_handed_over_inside_a_flushed_response_is_the_only_difference():
    assert _tunnel_inside(HEAD + TUNNEL + b"late", HEAD + b"late")
    assert _tunnel_inside(HEAD + b"late" + TUNNEL, HEAD + b"late")


def test_other_bytes_beside_the_tunnel_are_a_finding():
    assert not _tunnel_inside(HEAD + TUNNEL + b"late", HEAD + b"LATE")
    assert not _tunnel_inside(HEAD + TUNNEL + b"late", HEAD.replace(b"200 OK", b"500 Oops") + b"late")
    assert not _tunnel_inside(HEAD + b"hello" + b"late", HEAD + b"late")  # no tunnel reply at all
    assert not _tunnel_inside(HEAD + TUNNEL + b"late", HEAD + b"late" + b"more")


# node-compat deviations 3 and 5 at once: the client sends an HTTP/1.0 keep-alive request
# whose response is close-delimited, another request behind it, then its FIN
PIPELINE = b"GET /flush HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n"
FLUSHED = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: close\r\n\r\n"
FLUSH = ("request", ("method", "GET"), ("url", "/flush"), ("v", "1.0"))
BEHIND = ("request", ("method", "GET"), ("url", "/"), ("v", "1.0"))


def _outcomes(node_bytes=FLUSHED, node_events=(BEHIND,), ours_bytes=FLUSHED + b"late"):
    node = Outcome(node_bytes, True, False, [("connection",), FLUSH, *node_events])
    ours = Outcome(ours_bytes, True, False, [("connection",), FLUSH, ("res.finish", ("url", "/flush"))])
    return node, ours


def test_node_dispatching_a_request_behind_a_closing_response_cut_by_the_fin_is_known():
    assert known_difference(([PIPELINE], PIPELINE, True), *_outcomes()) == "responses-after-client-fin"
    both = _outcomes(node_bytes=b"", node_events=(BEHIND, BEHIND))
    assert known_difference(([PIPELINE], PIPELINE, True), *both) == "responses-after-client-fin"


def test_more_than_requests_behind_a_closing_response_is_a_finding():
    case = ([PIPELINE], PIPELINE, True)
    assert known_difference(case, *_outcomes(node_events=(BEHIND, ("dropRequest",)))) is None
    assert known_difference(case, *_outcomes(node_bytes=FLUSHED + b"other")) is None  # bytes prefork did not write
    kept = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nContent-Length: 4\r\n\r\nlate"
    assert known_difference(case, *_outcomes(node_bytes=kept, ours_bytes=kept)) is None  # prefork's does not close
    assert known_difference(([PIPELINE], PIPELINE, False), *_outcomes()) is None  # no FIN


# node-compat deviation 7: a request answered on its 'end' gets its response out before a
# malformed request read with it; Node's clientError reply replaces it. A read arriving
# before Node's connection closes repeats Node's clientError (its parser keeps the error).
ANSWERED = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
MALFORMED = ANSWERED + b"PRI / HTTP/0.9\r\n\r\n"
LATER = b"GET / HTTP/1.1\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n" \
    b"Content-Length: 9\r\n\r\nnot found"
REPLY = b"HTTP/1.1 400 Bad Request\r\nX-Client-Error: HPE_INVALID_VERSION\r\nContent-Length: 0\r\n" \
    b"Connection: close\r\n\r\n"
REQUEST_A = ("request", ("method", "GET"), ("url", "/a"), ("v", "1.1"))


def _error(code="HPE_INVALID_VERSION"):
    return ("clientError", ("code", code))


def _end_before_error(node_errors):
    node = Outcome(REPLY, True, False, [("connection",), REQUEST_A, *node_errors])
    ours = Outcome(NOT_FOUND, True, False, [("connection",), REQUEST_A, _error(), ("res.finish", ("url", "/a"))])
    return known_difference(([MALFORMED, LATER], MALFORMED + LATER, False), node, ours)


def test_node_repeating_its_client_error_for_a_later_read_is_the_known_end_before_error():
    assert _end_before_error([_error()]) == "end-before-error-in-same-read"
    assert _end_before_error([_error(), _error()]) == "end-before-error-in-same-read"


def test_a_second_client_error_of_another_code_is_a_finding():
    assert _end_before_error([_error(), _error("HPE_INVALID_METHOD")]) is None
    assert _end_before_error([_error("HPE_INVALID_METHOD"), _error()]) is None
    assert _end_before_error([]) is None


# node-compat deviation 13: a PRI request's connection is destroyed right after its
# 'request'; Node parses the rest of that read first, and a parse error there is its
# clientError (its listener's 400) instead of the destroy
PRI = [b"PRI", b" /x", b"\r\nHost: x\r\n\r\n"]
PRI_REQUEST = ("request", ("method", "PRI"), ("url", "/x"), ("v", "0.9"))
STRICT = b"HTTP/1.1 400 Bad Request\r\nX-Client-Error: HPE_STRICT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _pri(node_bytes=STRICT, node_events=(("clientError", ("code", "HPE_STRICT")),), ours_request=PRI_REQUEST):
    node = Outcome(node_bytes, True, False, [("connection",), PRI_REQUEST, *node_events])
    ours = Outcome(b"", True, False, [("connection",), ours_request])
    return known_difference((PRI, b"".join(PRI), False), node, ours)


def test_a_pri_connection_destroyed_before_nodes_parse_error_is_known():
    assert _pri() == "pri-destroyed-before-parse-error"
    assert _pri(node_bytes=b"") == "pri-destroyed-before-parse-error"  # (no listener's reply)


def test_more_than_a_client_error_after_a_pri_request_is_a_finding():
    assert _pri(node_events=(("clientError", ("code", "HPE_STRICT")), REQUEST_A)) is None
    assert _pri(node_bytes=NOT_FOUND) is None
    assert _pri(ours_request=REQUEST_A, node_events=()) is None
    assert _pri(node_events=()) is None


# parser-notes "Tabs after Content-Length and Connection values": only a close or upgrade
# token ending in a tab is read differently by Node's llhttp and httptools'
KEPT = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na"
CLOSED = KEPT.replace(b"keep-alive", b"close")
REQUEST = ("request", ("method", "GET"), ("url", "/"), ("v", "1.1"))


def _tab_case(value, name=b"Connection"):
    data = b"GET / HTTP/1.1\r\nHost: x\r\n" + name + b": " + value + b"\r\n\r\n"
    node = Outcome(KEPT, False, False, [("connection",), REQUEST])
    ours = Outcome(CLOSED, True, False, [("connection",), REQUEST])
    return known_difference(([data], data, False), node, ours)


def test_a_close_or_upgrade_token_ending_in_a_tab_is_the_known_tab_difference():
    for value in (b"close\t", b"Close \t", b"x,close\t", b"keep-alive, close\tx", b"upgrade\t", b"\tCLOSE\t"):
        assert _tab_case(value) == "connection-token-then-tab", value
    assert _tab_case(b"close\t", b"Proxy-Connection") == "connection-token-then-tab"


def test_a_tab_anywhere_else_in_connection_is_a_finding():
    for value in (b"\tclose", b"x,\tclose", b"close,\tx", b"x\t, close", b"close, x\t", b"keep-alive\t",
                  b"foo\t", b"xclose\t", b"cl\tose", b"\tupgrade"):
        assert _tab_case(value) is None, value


# node-compat deviation 5 with Node's own clientError handling: an HTTP/1.0 keep-alive
# request answered close-delimited (/flush: head now, 'late' after 50 ms), then a
# malformed request in the next read; Node parses it and its default handler destroys the
# connection (the head is out), cutting the response; prefork reads nothing after it
FLUSH_THEN_BAD = [b"POST /flush HTTP/1.0\r\nHost: x\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nbGET /",
                  b" HTTP/1.1 \r\nHost: x\r\n\r\n"]
FLUSH_POST = ("request", ("method", "POST"), ("url", "/flush"), ("v", "1.0"))
UNLISTENED = {"unlisten": ["clientError", "checkContinue", "checkExpectation"]}


def _cut_by_default_destroy(errors, config):
    case = (FLUSH_THEN_BAD, b"".join(FLUSH_THEN_BAD), False)
    node = Outcome(FLUSHED, True, False, (("connection",), FLUSH_POST), errors)
    ours = Outcome(FLUSHED + b"late", True, False, (("connection",), FLUSH_POST, ("res.finish", ("url", "/flush"))))
    return known_difference(case, node, ours, config)


def test_nodes_own_destroy_on_a_parse_error_cutting_a_closing_response_is_known():
    assert _cut_by_default_destroy(["HPE_INVALID_VERSION"], UNLISTENED) == "nothing-after-final-response"


def test_a_cut_response_without_nodes_parse_error_is_a_finding():
    assert _cut_by_default_destroy([], UNLISTENED) is None
    assert _cut_by_default_destroy(["ECONNRESET"], UNLISTENED) is None
    # with a listener, Node's parse error is its clientError event, which is missing here
    assert _cut_by_default_destroy(["HPE_INVALID_VERSION"], {}) is None


# node-compat deviations 6 and 3: a listened upgrade behind a pending /flush response,
# then the client's FIN; Node hands over at once and writes the response's head into the
# tunnel (its 'late' body lost to the FIN), prefork sends the response whole first
UP_HEAD = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
UP_EVENTS = (("connection",), ("request", ("method", "POST"), ("url", "/flush"), ("v", "1.1")),
             ("upgrade", ("url", "/flush"), ("head", "ab")))
UP_READS = [b"POST /flush HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: upgrade\r\n\r\nab", b"cd"]


def _upgrade_behind_flush(node_bytes, half_close=True, ours_bytes=UP_HEAD + b"4\r\nlate\r\n0\r\n\r\n" + SWITCH + b"abcd"):
    node = Outcome(node_bytes, True, False, UP_EVENTS)
    ours = Outcome(ours_bytes, True, False, UP_EVENTS[:2] + (("res.finish", ("url", "/flush")),) + UP_EVENTS[2:])
    return known_difference((UP_READS, b"".join(UP_READS), half_close), node, ours, {})


def test_a_pending_response_node_wrote_into_the_tunnel_before_the_fin_is_known():
    assert _upgrade_behind_flush(SWITCH + b"ab" + UP_HEAD + b"cd") == "response-before-hand-over"
    assert _upgrade_behind_flush(SWITCH + b"abcd" + UP_HEAD[:20]) == "response-before-hand-over"


def test_tunnel_bytes_lost_or_changed_beside_the_response_are_a_finding():
    assert _upgrade_behind_flush(SWITCH + b"a" + UP_HEAD + b"cd") is None
    assert _upgrade_behind_flush(SWITCH + b"ab" + UP_HEAD + b"CD") is None
    assert _upgrade_behind_flush(SWITCH + b"ab" + UP_HEAD + b"cd", half_close=False) is None
    assert _upgrade_behind_flush(SWITCH + b"ab" + b"HTTP/1.1 500 Oops\r\n\r\n" + b"cd") is None
