"""Rules of the ASGI fuzz's known differences (tests/fuzz_asgi_uvicorn_known.py) on the
outcomes that showed them: each edits what its reason covers and leaves a real
difference in place."""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_asgi_uvicorn_known import interim_start, no_body_status  # noqa: E402

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
