"""A worker that runs for weeks must not grow with connections that ended badly.

The real daemon, one worker, each interface (events API with plain and ``async def``
listeners, WSGI with threads = 1 and 4, ASGI with HTTP and WebSockets, a TLS listener, a
PROXY-protocol listener, the client inside a handler): each abnormal ending (a reset
mid-head, mid-body, mid-response, while an async listener awaits, during a WebSocket
handshake or mid-frame, during the TLS handshake or the PROXY header; half-close then
vanish; 100-continue then abort; upgrade/CONNECT then reset; an upstream that resets)
runs for a warm-up, then twice ``N`` times. The worker's holdings, read through the
test app's ``/__probe`` route (``apps.leak_probe``), must not grow from the first round
to the second: descriptors, tasks, live timers, prefork objects by class (exact), and
no prefork object may be left in a reference cycle (automatic collection is off in the
worker, so the probe's count of what the collector found is exact).
"""

import ssl

import pytest

import leakdrive as L
from daemon import Daemon
import test_hostile_net_tls

N = 80

TIMEOUTS = ("--headers-timeout", "1", "--request-timeout", "2", "--keep-alive-timeout", "1",
            "--connections-checking-interval", "0.2")

CASES = {
    "events": ("events", "apps.leak_probe:events", (), [
        "mid_head", "mid_body", "mid_chunked_body", "mid_response", "while_awaiting", "half_close_vanish",
        "half_close_mid_head", "expect_abort", "upgrade_reset", "connect_reset", "upstream",
        "upstream_reset_midway"]),
    "events-async": ("events", "apps.leak_probe:events_async", (), [
        "mid_head", "mid_body", "mid_response", "while_awaiting", "half_close_vanish", "expect_abort",
        "upgrade_reset", "upstream_reset_midway"]),
    "wsgi": ("wsgi", "apps.leak_probe:wsgi", (), [
        "mid_head", "mid_body", "mid_response", "while_awaiting", "half_close_vanish",
        "expect_abort", "upstream_reset_midway"]),
    "wsgi-threads": ("wsgi", "apps.leak_probe:wsgi", ("threads",), [
        "mid_head", "mid_body", "mid_response", "while_awaiting", "half_close_vanish",
        "expect_abort"]),
    "asgi": ("asgi", "apps.leak_probe:asgi", (), [
        "mid_head", "mid_body", "mid_response", "while_awaiting", "half_close_vanish", "expect_abort",
        "ws_handshake_reset", "ws_mid_frame", "ws_echo_then_reset", "upstream"]),
    "tls": ("events", "apps.leak_probe:events_async", ("tls",), [
        "tls_handshake_reset", "tls_hello_cut", "mid_head", "mid_response", "while_awaiting", "upgrade_reset"]),
    "asgi-tls": ("asgi", "apps.leak_probe:asgi", ("tls",), [
        "tls_hello_cut", "ws_mid_frame", "while_awaiting"]),
    "proxy": ("events", "apps.leak_probe:events_async", ("proxy",), [
        "proxy_cut", "mid_head", "mid_body", "while_awaiting", "connect_reset"]),
}


def params():
    for case, (_, _, _, endings) in CASES.items():
        for ending in endings:
            yield pytest.param(case, ending, id=f"{case}-{ending}")


pki = test_hostile_net_tls.pki  # (a fixture: a CA and the server's certificate)


@pytest.fixture(scope="module")
def running(pki):
    started = {}
    upstream = L.ResettingUpstream(answer_every=3)

    def get(case):
        if case not in started:
            interface, app, extra, _ = CASES[case]
            args = ["--interface", interface, *TIMEOUTS, *(("--threads", "4") if "threads" in extra else ())]
            tls = None
            if "tls" in extra:
                args += ["--certfile", pki.cert, "--keyfile", pki.key, "--tls-handshake-timeout", "1"]
                tls = ssl.create_default_context(cafile=pki.ca)
                tls.check_hostname = False
            if "proxy" in extra:
                args += ["--proxy-protocol", "--proxy-protocol-timeout", "1"]
            d = Daemon(*args, app=app, workers=1, access_log=None,
                       env={"LEAK_UPSTREAM": str(upstream.port), "LEAK_NO_GC": "1"})
            started[case] = d
            d.wait_ready(timeout=20)
            d.target = L.Target(d.port, tls=tls, proxy="proxy" in extra)
        return started[case]
    yield get
    for d in started.values():
        d.cleanup()
    upstream.stop()


def grew(a, b):
    """What ``b`` holds beyond ``a``: descriptors, tasks, live timers, prefork objects."""
    out = {key: (a[key], b[key]) for key in ("fds", "tasks", "timers") if b[key] > a[key]}
    for name, count in b["prefork"].items():
        if name not in L.CACHED and count > a["prefork"].get(name, 0):
            out[name] = (a["prefork"].get(name, 0), count)
    return out


@pytest.mark.parametrize("case,ending", list(params()))
def test_abnormal_endings_leave_nothing_behind(running, case, ending):
    d = running(case)
    target = d.target
    cycle = getattr(L, ending)
    for _ in range(N // 4):  # warm up (caches, the first of each kind of object)
        cycle(target)
    base = L.settle(target, target.probe())
    for _ in range(N):
        cycle(target)
    first = L.settle(target, base)
    for _ in range(N):
        cycle(target)
    second = L.settle(target, first)
    assert not grew(first, second), (f"the worker grew from one round of {N} to the next: {grew(first, second)}; "
                                     f"timers then {first['timer_kinds']}, now {second['timer_kinds']}")
    cyclic = [first["cyclic"], second["cyclic"]]
    assert cyclic == [{}, {}], f"left in reference cycles in each round of {N} endings: {cyclic}"
    # (cancelled timers wait in the loop's heap until due or until asyncio sweeps them,
    # past 100: bounded, not counted)
    objects = [probe["objects"] - sum(probe["types"].get(kind, 0) for kind in ("TimerHandle", "Context"))
               for probe in (first, second)]
    assert objects[1] - objects[0] < N // 4, f"gc-tracked objects after each round: {objects}"
    assert "Traceback" not in d.log(), d.log()[-3000:]
