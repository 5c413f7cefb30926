"""The rule for a refused WebSocket handshake in the ASGI fuzz (tests/fuzz_asgi_uvicorn_known_ws.py's
``ws_refusal``), on outcomes of the shapes the fuzz showed: it leaves out only the reason
phrase, the body's text and the fields each side documents, so the rest of prefork's
answer is still compared with uvicorn's, and prefork's must have its documented form."""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_asgi_uvicorn_known_ws import ws_refusal  # noqa: E402
from test_fuzz_asgi_known_websockets_rules import H101, OURS_426, item, response, side  # noqa: E402

WSPROTO_426 = response(426, "", [["content-length", "0"], ["sec-websocket-version", "13"]], "")
OURS_400 = response(400, "Bad Request", [["connection", "close"], ["content-length", "47"], ["content-type", "text/plain; charset=utf-8"],
                                         ["date", "<date>"]], "Bad WebSocket handshake: bad Sec-WebSocket-Key\n")
THEIRS_400 = response(400, "Bad Request", [["connection", "close"], ["content-length", "94"], ["content-type", "text/plain"], ["date", "<date>"]],
                      "Failed to open a WebSocket connection: missing Sec-WebSocket-Key header; 'sec-websocket-key'.\n")


def bad_key(ws):
    """A handshake whose Sec-WebSocket-Key is not base64 of 16 bytes."""
    handshake = item(ws=ws)
    handshake["steps"][0] = handshake["steps"][0].replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"short")
    return handshake


def refused(ours, theirs, ws="wsproto", key=False, closed=True):
    """The rule's verdict on prefork's ``ours`` and uvicorn's ``theirs`` (to a bad key
    with ``key``, else to version 8), and whether the outcomes are then equal."""
    pre, uvi = side([ours], [], None, closed), side([theirs], [], None)
    pre["app"] = uvi["app"] = []
    return ws_refusal(bad_key(ws) if key else item(version=b"8", ws=ws), pre, uvi), pre == uvi


def with_field(answer, name, value):
    answer = copy.deepcopy(answer)
    answer["headers"] = sorted([h for h in answer["headers"] if h[0] != name] + ([[name, value]] if value is not None else []))
    return answer


def test_a_426_that_uvicorn_on_wsproto_sends_bare_differs_only_in_what_prefork_documents():
    assert refused(OURS_426, WSPROTO_426) == (True, True)
    assert refused(OURS_426, with_field(WSPROTO_426, "sec-websocket-version", None)) == (True, False)
    assert refused(OURS_426, with_field(WSPROTO_426, "set-cookie", "x=1")) == (True, False)
    assert refused(OURS_426, dict(WSPROTO_426, version="HTTP/1.0")) == (True, False)
    assert refused(OURS_426, WSPROTO_426, closed=False) == (True, False)


def test_a_refusal_not_in_prefork_documented_form_is_a_finding():
    garbage = response(426, "Upgrade Required", [["content-length", "999"], ["sec-websocket-version", "13"], ["set-cookie", "x=1"]], "garbage")
    assert refused(garbage, WSPROTO_426)[0] is False
    for name, value in (["set-cookie", "x=1"], ["date", None], ["connection", None], ["content-length", "76"],
                        ["content-type", "text/html"], ["sec-websocket-version", None]):
        assert refused(with_field(OURS_426, name, value), WSPROTO_426)[0] is False, name
    assert refused(dict(OURS_426, reason=""), WSPROTO_426)[0] is False
    assert refused(OURS_426, dict(WSPROTO_426, body="x", headers=[["content-length", "1"], ["sec-websocket-version", "13"]]))[0] is False


def test_the_websockets_librarys_400_differs_from_prefork_only_in_its_text_and_content_type():
    assert refused(OURS_400, THEIRS_400, "websockets", key=True) == (True, True)
    assert refused(OURS_400, with_field(THEIRS_400, "connection", None), "websockets", key=True) == (True, False)
    assert refused(OURS_400, with_field(THEIRS_400, "date", None), "websockets") == (True, False)
    assert refused(with_field(OURS_400, "date", None), THEIRS_400, "websockets")[0] is False


def test_a_bad_key_that_wsproto_accepts_is_known_only_where_uvicorn_did_not_refuse_it():
    pre, uvi = side([OURS_400], [], None), side([H101, {"frames": [], "rest": ""}], [["websocket.connect"]], ["returned"])
    pre["app"] = []
    assert ws_refusal(bad_key("wsproto"), pre, uvi) and pre == uvi
    pre, uvi = side([OURS_400], [], None), side([H101, {"frames": [], "rest": ""}], [["websocket.connect"]], ["returned"])
    pre["app"] = []
    assert not ws_refusal(bad_key("websockets"), pre, uvi)  # the websockets library refuses it
    # a 400 to the bad key from uvicorn too: compared (its reason phrase and empty body are wsproto's)
    assert refused(OURS_400, response(400, "", [["content-length", "0"]], ""), key=True) == (True, True)
    assert refused(OURS_400, response(400, "", [["content-length", "0"], ["x-stray", "1"]], ""), key=True) == (True, False)
