"""Raw-byte scenarios (spec §1-§6) against prefork, and side by side against Node.

test_spec asserts prefork's exact bytes, events and connection fate for each scenario;
test_matches_node runs the same scenario against Node's own http server (the twin
reference server tests/ref_server.js) and requires identical results.
"""

import collections
import json

import pytest

from harness import NODE, RefServer, exchanges, mask
from scenarios import SCENARIOS


@pytest.fixture(scope="module")
def servers():
    running = {}

    def get(kind, config, loop=None):
        key = (kind, json.dumps(config, sort_keys=True), loop)
        if key not in running:
            running[key] = RefServer(kind, config, loop)
        return running[key]
    yield get
    for server in running.values():
        server.stop()


@pytest.fixture(scope="module")
def results(servers):
    """A scenario's results on prefork (asyncio), prefork on uvloop and Node (where it is
    installed), the three exchanges run at once, each on its own server process and the
    only one there (all three are over before the next scenario starts): each keeps its
    own window, the scenario costs the longest of them, not their sum."""
    cache = {}

    def get(scenario, name):
        if scenario.name not in cache:
            kinds = {"prefork": ("prefork", None), "uvloop": ("prefork", "uvloop")}
            if NODE is not None:
                kinds["node"] = ("node", None)
            running = [servers(kind, scenario.config, loop) for kind, loop in kinds.values()]
            cache[scenario.name] = dict(zip(kinds, exchanges(running, scenario.steps, scenario.window)))
        return cache[scenario.name][name].result()
    return get


@pytest.fixture(scope="module")
def prefork_results(results):
    return lambda scenario: results(scenario, "prefork")


def _event(e):
    return e["ev"] if e.get("code") is None else (e["ev"], e["code"])


@pytest.fixture(scope="module")
def uvloop_results(results):
    return lambda scenario: results(scenario, "uvloop")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_spec(scenario, prefork_results):
    check_spec(scenario, prefork_results(scenario))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_spec_on_uvloop(scenario, uvloop_results):
    """The same scenarios with the workers' optional uvloop loop."""
    check_spec(scenario, uvloop_results(scenario))


def check_spec(scenario, result):
    if scenario.expect is not None:
        assert result.masked == scenario.expect
    listened = getattr(scenario, "listened_expect", None)
    if listened is not None:
        assert result.masked == listened
    if scenario.closed is not None:
        assert result.closed == scenario.closed
    if scenario.events is not None:
        assert [_event(e) for e in result.events] == scenario.events
    code = getattr(scenario, "code", None)
    if code is not None and "(l)" in scenario.name:
        assert [e.get("code") for e in result.events if e["ev"] == "clientError"] == [code]
    if scenario.close_after is not None:
        low, high = scenario.close_after
        assert result.close_after is not None and low <= result.close_after <= high, result.close_after
    # every scenario's bytes are well-formed for what it sent: no stray Date outside heads
    assert b"Date: <DATE>" not in result.masked or b"HTTP/1.1" in result.masked
    assert mask(result.data) == result.masked


def interleaved_events(events):
    """``events`` (as ``Result.summary`` has them) in a form that holds whatever the
    order in which pipelined requests and the responses to them interleave: each run of
    'request' and 'res.finish' events as how many of each, once every 'res.finish' came
    after a 'request' not answered yet; every other event in its place."""
    out, run, waiting = [], [], 0
    for event in events + [None]:
        if event is not None and event[0] in ("request", "res.finish"):
            waiting += 1 if event[0] == "request" else -1
            assert waiting >= 0, f"a 'res.finish' before its 'request': {events}"
            run.append(event)
            continue
        if run:
            out.append(sorted(collections.Counter(run).items(), key=repr))
            run = []
        if event is not None:
            out.append(event)
    return out


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_matches_node(scenario, results):
    ours = results(scenario, "prefork")
    node = results(scenario, "node")
    theirs, mine = node.summary(), ours.summary()
    if not scenario.compare_events:
        theirs.pop("events")
        mine.pop("events")
    elif scenario.interleaved:
        for summary in (mine, theirs):
            summary["events"] = interleaved_events(summary["events"])
    assert mine == theirs
    if scenario.close_after is not None:
        assert abs(ours.close_after - node.close_after) < 0.35
