"""Rules of the ASGI fuzz's known differences (tests/fuzz_asgi_uvicorn_known.py) on the
outcomes that showed them: each edits what its reason covers and leaves a real
difference in place."""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_asgi_uvicorn_known import http10_close_and_keep_alive, interim_start, no_body_status  # noqa: E402

RAISED = [["send raised", "http.response.body", "RuntimeError"], ["raised", "RuntimeError"]]
# seed 777, input 2299: a PUT answered, then an OPTIONS to /m/s103/ (its app sends a 103
# start), then the client's half-close
ITEM = {"kind": "http", "steps": [b"PUT /m/big/ HTTP/1.1\r\n\r\n", b"OPTIONS /m/s103/%25 HTTP/1.1\r\n\r\n"]}


def outcomes(uvicorn_answers, uvicorn_log):
    ok = {"status": 200}
    pre = {"answers": [ok, {"status": 500}], "closed": True,
           "app": [{"scope": {"path": "/m/big/"}, "log": ["returned"]}, {"scope": {"path": "/m/s103/%"}, "log": RAISED}]}
    uvi = {"answers": [ok] + uvicorn_answers, "closed": True,
           "app": [{"scope": {"path": "/m/big/"}, "log": ["returned"]}, {"scope": {"path": "/m/s103/%"}, "log": uvicorn_log}]}
    return copy.deepcopy(pre), copy.deepcopy(uvi)


def test_a_1xx_start_that_uvicorn_sent_or_dropped_on_a_closed_connection_is_the_known_difference():
    for answers in ([{"status": 103}], []):  # sent as the response; dropped (uvicorn had closed)
        pre, uvi = outcomes(answers, ["returned"])
        assert interim_start(ITEM, pre, uvi) and pre == uvi


def test_a_dropped_answer_without_uvicorns_app_returning_is_still_a_difference():
    pre, uvi = outcomes([], [["raised", "ValueError"]])
    assert not interim_start(ITEM, pre, uvi)
    pre, uvi = outcomes([], ["returned"])
    uvi["closed"] = False  # uvicorn still had the connection: an answer missing is a finding
    assert not interim_start(ITEM, pre, uvi)


def test_the_app_behind_a_304_that_uvicorn_closed_after_is_not_compared_by_what_its_sends_raised():
    # seed 13, input 7540: a HEAD answered 304, an s103 request pipelined behind it, the
    # client's half-close: uvicorn closes after the 304 (its second app's sends dropped,
    # it returns); prefork answers the 1xx start's failure with a 500
    item = {"kind": "http", "steps": [b"HEAD /m/s304/ HTTP/1.1\r\n\r\nGET /m/s103/ HTTP/1.1\r\n\r\n"]}
    head = {"scope": {"path": "/m/s304/"}, "log": ["returned"]}
    pre = {"answers": [{"status": 304}, {"status": 500}], "closed": True,
           "app": [copy.deepcopy(head), {"scope": {"path": "/m/s103/"}, "log": RAISED}]}
    uvi = {"answers": [{"status": 304}], "closed": True,
           "app": [copy.deepcopy(head), {"scope": {"path": "/m/s103/"}, "log": ["returned"]}]}
    assert no_body_status(item, pre, uvi) and pre == uvi
    pre["app"][0]["log"] = RAISED  # the answered request's app is still compared
    assert not no_body_status(item, pre, uvi) or pre != uvi


def http10_both(connection_fields, pre_connection="keep-alive", body="{}"):
    # seed 5618639, input 1758: an HTTP/1.0 POST saying 'Connection: close' and
    # 'Connection: keep-alive', a GET pipelined behind it
    scope = {"http_version": "1.0", "headers": [["host", "x"]] + [["connection", v] for v in connection_fields]}
    answer = {"status": 200, "headers": [["content-length", "2"]], "body": body}
    pre = {"answers": [dict(answer, headers=[["connection", pre_connection], ["keep-alive", "timeout=5"]] +
                            answer["headers"]), {"status": 200, "headers": []}],
           "closed": False, "app": [{"scope": scope, "log": ["returned"]}, {"scope": {}, "log": ["returned"]}]}
    uvi = {"answers": [dict(answer, headers=[["connection", "close"]] + answer["headers"])], "closed": True,
           "app": [{"scope": copy.deepcopy(scope), "log": ["returned"]}]}
    return {"kind": "http", "steps": []}, pre, uvi


def test_an_http10_request_saying_close_and_keep_alive_kept_by_prefork_closed_by_uvicorn_is_known():
    for fields in (["close", "keep-alive"], ["close, keep-alive"], ["Keep-Alive, upgrade", "CLOSE"]):
        item, pre, uvi = http10_both(fields)
        assert http10_close_and_keep_alive(item, pre, uvi) and pre == uvi, fields


def test_only_that_request_and_only_its_connection_field_are_left_out():
    item, pre, uvi = http10_both(["close"])  # close alone: prefork keeping it would be a finding
    assert not http10_close_and_keep_alive(item, pre, uvi)
    item, pre, uvi = http10_both(["close", "keep-alive"], pre_connection="close")
    assert not http10_close_and_keep_alive(item, pre, uvi)
    item, pre, uvi = http10_both(["close", "keep-alive"])
    uvi["answers"][0]["body"] = "other"  # the bodies are still compared
    assert http10_close_and_keep_alive(item, pre, uvi) and pre != uvi
