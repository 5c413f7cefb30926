"""The server fuzz's known-difference rules match only what they name."""

from fuzz_server_known import _as_closing, _tunnel_inside, known_difference
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


def test_a_head_response_without_framing_before_the_replaced_ones_is_the_known_end_before_error():
    # (a HEAD response has no body whatever its head says: it does not close the connection)
    head_404 = b"HTTP/1.1 404 Not Found\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
    head_a = ("request", ("method", "HEAD"), ("url", "/a"), ("v", "1.1"))
    data = b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /%20x HTTP/11\r\n\r\n"
    node = Outcome(REPLY, True, False, [("connection",), head_a, REQUEST_A, _error()])
    ours = Outcome(head_404 + NOT_FOUND, True, False, [("connection",), head_a, REQUEST_A, _error(),
                                                       ("res.finish", ("url", "/a")), ("res.finish", ("url", "/a"))])
    assert known_difference(([data], data, True), node, ours) == "end-before-error-in-same-read"


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
    for value in (b"close\t", b"Close \t", b"x,close\t", b"keep-alive, close\tx", b"\tCLOSE\t", b"x, \tclose\t"):
        assert _tab_case(value) == "connection-token-then-tab", value
    assert _tab_case(b"close\t", b"Proxy-Connection") == "connection-token-then-tab"
    assert _upgrade_tab_case() == "connection-token-then-tab"
    # without Host: an upgrade skips Node's Host check, a request gets Node's own 400
    data = b"GET /a HTTP/1.1\r\nConnection: upgrade\t\r\nUpgrade: websocket\r\n\r\nab"
    node = Outcome(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: <DATE>\r\nTransfer-Encoding: chunked\r\n"
                   b"\r\n0\r\n\r\n", True, False, [("connection",)])
    ours = Outcome(SWITCH + b"ab", True, False, [("connection",), ("upgrade", ("url", "/a"), ("head", "ab"))])
    assert known_difference(([data], data, True), node, ours) == "connection-token-then-tab"
    # a /flush response Node cut at the client's FIN (deviation 3 too)
    data = b"GET /flush HTTP/1.1\r\nHost: x\r\nConnection: close\t\r\n\r\n"
    flush = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n" \
        b"Transfer-Encoding: chunked\r\n\r\n"
    node = Outcome(flush, True, False, [("connection",), REQUEST])
    ours = Outcome(_as_closing(flush) + b"4\r\nlate\r\n0\r\n\r\n", True, False, [("connection",), REQUEST])
    assert known_difference(([data], data, True), node, ours) == "connection-token-then-tab"
    assert known_difference(([data], data, False), node, ours) is None  # no FIN
    ours = Outcome(_as_closing(flush) + b"4\r\nlate\r\n0\r\n\r\n" + KEPT, True, False, [("connection",), REQUEST])
    assert known_difference(([data], data, True), node, ours) is None
    other = Outcome(node.data, True, False, [("connection",), ("upgrade", ("url", "/b"), ("head", "ab"))])
    assert known_difference(([data], data, True), other, ours) is None
    # behind a head the server answers itself (an automatic 417: no event)
    e417 = b"HTTP/1.1 417 Expectation Failed\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n" \
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    data = b"POST /sync HTTP/1.1\r\nHost: x\r\nExpect: websocket\r\n\r\n" + UPGRADE_TAB
    node = Outcome(e417 + KEPT, True, False, [("connection",), REQUEST])
    ours = Outcome(e417 + SWITCH + b"ab", False, False, [("connection",), ("upgrade", ("url", "/"), ("head", "ab"))])
    assert known_difference(([data], data, False), node, ours) == "connection-token-then-tab"
    ours = Outcome(e417 + SWITCH + b"ab", False, False, [("connection",), ("upgrade", ("url", "/x"), ("head", "ab"))])
    assert known_difference(([data], data, False), node, ours) is None
    # a head Node and prefork answer themselves (an automatic 417: no request event)
    data = b"GET / HTTP/1.1\r\nHost: x\r\nExpect: v\r\nConnection: close\t\r\n\r\n"
    e417 = b"HTTP/1.1 417 Expectation Failed\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n" \
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    node, ours = Outcome(e417, True, False, [("connection",)]), Outcome(_as_closing(e417), True, False, [("connection",)])
    assert known_difference(([data], data, True), node, ours) == "connection-token-then-tab"


def test_an_upgrade_token_and_tab_without_an_upgrade_field_leaves_the_next_head_to_the_rule():
    # the first head's upgrade token changes nothing (no Upgrade field): the second head,
    # which asks for an upgrade with the token and tab, is the one read differently
    data = (b"POST /flush HTTP/1.1\r\nHost: x\r\nConnection: upgrade\t\r\n\r\nPOST /echo HTTP/1.1\r\n"
            b"Upgrade: a\r\nConnection: upgrade\t\r\nContent-Length: 5\r\nHost: x\r\n\r\nd")
    flush = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n" \
        b"Transfer-Encoding: chunked\r\n\r\n4\r\nlate\r\n0\r\n\r\n"
    first = ("request", ("method", "POST"), ("url", "/flush"), ("v", "1.1"))
    node = Outcome(flush, False, False, [("connection",), first, ("request", ("method", "POST"), ("url", "/echo"),
                                                                  ("v", "1.1")), ("res.finish", ("url", "/flush"))])
    ours = Outcome(flush + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: a\r\nConnection: Upgrade\r\n\r\nd", False,
                   False, [("connection",), first, ("res.finish", ("url", "/flush")), ("upgrade", ("url", "/echo"), ("head", "d"))])
    assert known_difference(([data], data, False), node, ours) == "connection-token-then-tab"
    # an upgrade of another request is a finding
    other = Outcome(ours.data, False, False, ours.events[:3] + [("upgrade", ("url", "/x"), ("head", "d"))])
    assert known_difference(([data], data, False), node, other) is None


def test_a_tab_anywhere_else_in_connection_is_a_finding():
    for value in (b"\tclose", b"x,\tclose", b"close,\tx", b"x\t, close", b"close, x\t", b"keep-alive\t",
                  b"foo\t", b"xclose\t", b"cl\tose", b"\tupgrade", b"upgrade\t"):
        assert _tab_case(value) is None, value


def test_a_close_or_upgrade_token_after_another_word_and_a_blank_is_a_finding():
    # llhttp's two versions read these alike (Node and prefork keep the connection alive)
    for value in (b"foo close\t", b"x\tclose\t", b"keep-alive close\t", b"foo upgrade\t", b"x, foo close\t"):
        assert _tab_case(value) is None, value


def test_a_close_token_and_tab_outside_a_request_head_is_a_finding():
    body = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\n\r\nConnection: close\t\r\n"
    trailer = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\t\r\n\r\n"
    for data in (body, trailer):
        node = Outcome(KEPT, False, False, [("connection",), REQUEST])
        ours = Outcome(CLOSED, True, False, [("connection",), REQUEST])
        assert known_difference(([data], data, False), node, ours) is None, data


def test_other_differences_beside_a_close_token_and_tab_are_a_finding():
    # a Content-Length with a tab (refused by Node and prefork alike) in the same head
    data = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\t\r\nContent-Length: 5\t\r\n\r\nhello"
    node = Outcome(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", True, False,
                   [("connection",), ("clientError", ("code", "HPE_INVALID_CONTENT_LENGTH"))])
    ours = Outcome(CLOSED, True, False, [("connection",), ("request", ("method", "POST"), ("url", "/"), ("v", "1.1"))])
    assert known_difference(([data], data, False), node, ours) is None
    data = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\t\r\n\r\n"
    for node_bytes, ours_bytes, closed in ((KEPT, CLOSED.replace(b"\r\n\r\na", b"\r\n\r\nb"), True),
                                           (KEPT, CLOSED + CLOSED, True), (KEPT, KEPT, True), (KEPT, CLOSED, False)):
        node = Outcome(node_bytes, False, False, [("connection",), REQUEST])
        ours = Outcome(ours_bytes, closed, False, [("connection",), REQUEST])
        assert known_difference(([data], data, False), node, ours) is None, ours_bytes
    assert _upgrade_tab_case(ours_bytes=b"HTTP/1.1 500 Oops\r\n\r\n" + SWITCH + b"ab") is None
    assert _upgrade_tab_case(node_url="/other") is None


# Connection: upgrade<TAB> with an Upgrade field: prefork hands the request over as an
# upgrade; Node reads no upgrade, answers nothing yet and parses the tunnel's bytes on
UPGRADE_TAB = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\t\r\n\r\nab"


def _upgrade_tab_case(ours_bytes=None, node_url="/"):
    node = Outcome(b"HTTP/1.1 400 Bad Request\r\nX-Client-Error: HPE_INVALID_METHOD\r\nContent-Length: 0\r\n"
                   b"Connection: close\r\n\r\n", True, False,
                   [("connection",), ("request", ("method", "GET"), ("url", node_url), ("v", "1.1")),
                    ("clientError", ("code", "HPE_INVALID_METHOD"))])
    ours = Outcome(ours_bytes or SWITCH + b"ab", False, False, [("connection",), ("upgrade", ("url", "/"), ("head", "ab"))])
    return known_difference(([UPGRADE_TAB], UPGRADE_TAB, False), node, ours)


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


def test_bytes_after_the_response_node_cut_are_a_finding():
    # Node's parse error explains a cut inside prefork's last response, nothing after it
    case = (FLUSH_THEN_BAD, b"".join(FLUSH_THEN_BAD), False)
    events = (("connection",), FLUSH_POST, ("res.finish", ("url", "/flush")))
    listened_events = (("connection",), FLUSH_POST, ("clientError", ("code", "HPE_INVALID_VERSION")))
    canned = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
    for node_bytes, ours_bytes in ((FLUSHED + b"late", FLUSHED + b"late" + canned),  # a whole response, then a 400
                                   (FLUSHED + b"late", FLUSHED + b"late" + FLUSHED + b"late"),
                                   (FLUSHED, FLUSHED + canned),  # Node cut nothing of it
                                   (canned[:20], canned)):  # an error reply
        ours = Outcome(ours_bytes, True, False, events)
        node = Outcome(node_bytes, True, False, (("connection",), FLUSH_POST), ["HPE_INVALID_VERSION"])
        assert known_difference(case, node, ours, UNLISTENED) is None, ours_bytes
        node = Outcome(node_bytes, True, False, listened_events)
        assert known_difference(case, node, ours, {}) is None, ours_bytes
    # the same with a Content-Length response: a whole one then a 400, or junk
    sync = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: close\r\nContent-Length: 4\r\n\r\nsync"
    for extra in (canned, b"XYZ", sync):
        ours = Outcome(sync + extra, True, False, events)
        node = Outcome(sync, True, False, (("connection",), FLUSH_POST), ["HPE_INVALID_CHUNK_SIZE"])
        assert known_difference(case, node, ours, UNLISTENED) is None, extra
    # a cut inside a Content-Length response is still known
    node = Outcome(sync[:-2], True, False, (("connection",), FLUSH_POST), ["HPE_INVALID_CHUNK_SIZE"])
    assert known_difference(case, node, Outcome(sync, True, False, events), UNLISTENED) == "nothing-after-final-response"


# a request without Host (Node's 400 queued behind the /sync response still finishing),
# then a malformed request in the same read: Node's clientError listener destroys the
# connection before that 400 is written; prefork answers it and reads nothing after it
NO_HOST = b"GET /sync HTTP/1.1\r\nHost: x\r\n\r\nDELETE /conn-close HTTP/1.1\r\n\r\nG\x00T /a b HTTP/1.0\r\n\r\n"
NO_HOST_400 = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: <DATE>\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
SYNC_KEPT = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 4\r\n\r\nsync"
SYNC_GET = ("request", ("method", "GET"), ("url", "/sync"), ("v", "1.1"))


def _no_host(node_events, ours_bytes=SYNC_KEPT + NO_HOST_400):
    node = Outcome(SYNC_KEPT, True, False, (("connection",), SYNC_GET, *node_events, ("res.finish", ("url", "/sync"))))
    ours = Outcome(ours_bytes, True, False, (("connection",), SYNC_GET, ("res.finish", ("url", "/sync"))))
    return known_difference(([NO_HOST], NO_HOST, False), node, ours, {})


def test_a_response_nodes_client_error_dropped_unwritten_is_known():
    assert _no_host([("clientError", ("code", "HPE_INVALID_METHOD"))]) == "nothing-after-final-response"


def test_a_response_node_did_not_write_beside_other_node_events_is_a_finding():
    assert _no_host([("request", ("method", "DELETE"), ("url", "/conn-close"), ("v", "1.1")),
                     ("clientError", ("code", "HPE_INVALID_METHOD"))]) is None
    assert _no_host([("clientError", ("code", "HPE_INVALID_METHOD"))], SYNC_KEPT + NO_HOST_400 + b"x") is None


def test_a_response_after_one_that_closes_the_connection_is_a_finding():
    # (deviation 7 lets prefork's responses outnumber Node's, never past a closing one)
    data = b"POST /sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n"
    sync = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: close\r\nContent-Length: 4\r\n\r\nsync"
    events = (("connection",), ("request", ("method", "POST"), ("url", "/sync"), ("v", "1.1")),
              ("res.finish", ("url", "/sync")))
    node = Outcome(sync, True, False, events, ["HPE_INVALID_CHUNK_SIZE"])
    for config in (UNLISTENED, {}):
        assert known_difference(([data], data, False), node, Outcome(sync + sync, True, False, events), config) is None


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
    # (flushHeaders writes the head in one piece: a cut falls after it)
    assert _upgrade_behind_flush(SWITCH + b"abcd" + UP_HEAD) == "response-before-hand-over"
    assert _upgrade_behind_flush(SWITCH + b"a" + UP_HEAD + b"4\r\nlate\r\n" + b"bcd") == "response-before-hand-over"


def test_a_response_node_cut_inside_its_head_is_a_finding():
    assert _upgrade_behind_flush(SWITCH + b"abcd" + UP_HEAD[:20]) is None
    assert _upgrade_behind_flush(SWITCH + b"ab" + b"HTTP/1.1 200 OK\r\n" + b"cd") is None


def test_prefork_bytes_before_the_tunnel_other_than_one_whole_response_are_a_finding():
    whole = UP_HEAD + b"4\r\nlate\r\n0\r\n\r\n"
    both = UP_HEAD.replace(b"chunked\r\n", b"chunked\r\nContent-Length: 4\r\n")
    for before in (whole + whole,  # the response twice
                   UP_HEAD + b"4\r\nlate\r\n",  # no last chunk
                   both + b"4\r\nlate\r\n0\r\n\r\n",  # Content-Length beside Transfer-Encoding
                   whole + b"junk",
                   UP_HEAD.replace(b"Transfer-Encoding: chunked\r\n", b"") + b"late"):  # close-delimited
        cut = before[:len(UP_HEAD)]
        assert _upgrade_behind_flush(SWITCH + b"ab" + cut + b"cd", ours_bytes=before + SWITCH + b"abcd") is None, before


def test_tunnel_bytes_lost_or_changed_beside_the_response_are_a_finding():
    assert _upgrade_behind_flush(SWITCH + b"a" + UP_HEAD + b"cd") is None
    assert _upgrade_behind_flush(SWITCH + b"ab" + UP_HEAD + b"CD") is None
    assert _upgrade_behind_flush(SWITCH + b"ab" + UP_HEAD + b"cd", half_close=False) is None
    assert _upgrade_behind_flush(SWITCH + b"ab" + b"HTTP/1.1 500 Oops\r\n\r\n" + b"cd") is None


# parser-notes "Empty Transfer-Encoding": refused by prefork, accepted by Node
CANNED = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
EMPTY_TE = b"CONNECT h:1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\na\r\nxy\r\n0\r\n\r\n"
NODE_TUNNEL = Outcome(b"HTTP/1.1 200 Connection Established\r\n\r\na\r\nxy\r\n0\r\n\r\n", True, False,
                      [("connection",), ("connect", ("url", "h:1"), ("head", "a\r\nxy\r\n0\r\n\r\n"))])
UNLISTENED = {"unlisten": ["clientError", "checkContinue", "checkExpectation"]}


def test_an_empty_transfer_encoding_refused_with_the_canned_400_is_known_when_client_error_is_unlistened():
    ours = Outcome(CANNED, True, False, [("connection",)])
    assert known_difference(([EMPTY_TE], EMPTY_TE, True), NODE_TUNNEL, ours, UNLISTENED) == "empty-transfer-encoding"
    # a listened clientError tells its code: the canned 400 alone is no refusal of that field
    assert known_difference(([EMPTY_TE], EMPTY_TE, True), NODE_TUNNEL, ours, {}) is None


def test_a_canned_400_for_another_error_beside_an_empty_transfer_encoding_is_a_finding():
    ours = Outcome(CANNED, True, False, [("connection",)])
    data = b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\nTransfer-Encoding:\r\n\r\n"
    assert known_difference(([data], data, True), NODE_TUNNEL, ours, UNLISTENED) is None
    # the 400 left open, or not the last response, is no refusal either
    open_ = Outcome(CANNED, False, False, [("connection",)])
    assert known_difference(([EMPTY_TE], EMPTY_TE, True), NODE_TUNNEL, open_, UNLISTENED) is None


def test_an_upgrade_token_and_tab_where_node_parsed_on_into_an_error_reply_is_the_tab_difference():
    # Node reads the upgrade request as a request, parses its would-be tunnel bytes as the
    # next request and refuses them: its canned 400 replaces the response not written yet
    data = (b"POST /sync HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nyGET /p HTTP/1.1\r\nUpgrade: websocket\r\n"
            b"Host: x\r\nConnection: upgrade\t\r\n\r\n3\r\n\na\n")
    first = ("request", ("method", "POST"), ("url", "/sync"), ("v", "1.1"))
    sync = b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 4\r\n\r\nsync"
    node = Outcome(CANNED, True, False, [("connection",), first, ("request", ("method", "GET"), ("url", "/p"), ("v", "1.1"))])
    ours = Outcome(sync + SWITCH + b"3\r\n\na\n", False, False,
                   [("connection",), first, ("res.finish", ("url", "/sync")), ("upgrade", ("url", "/p"), ("head", "3\r\n\na\n"))])
    assert known_difference(([data], data, False), node, ours, UNLISTENED) == "connection-token-then-tab"
    # Node's bytes other than that reply alone, or Node still open, are a finding
    for other in (Outcome(CANNED + CANNED, True, False, node.events), Outcome(CANNED, False, False, node.events),
                  Outcome(b"HTTP/1.1 200 OK\r\nDate: <DATE>\r\nContent-Length: 1\r\n\r\nx", True, False, node.events)):
        assert known_difference(([data], data, False), other, ours, UNLISTENED) is None
