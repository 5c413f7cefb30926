"""The demo app served with no APP answers the routes the README lists (``/``,
``/headers``, ``POST /echo``, ``/stream``, 404 for anything else) as the events demo
and as the WSGI one (``--interface wsgi``), which answered its hello to every path."""

import http.client
import json

import pytest

from test_app_loading import prefork_m


def fetch(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Transfer-Encoding"), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("interface", ["events", "wsgi"])
def test_the_demo_answers_the_routes_the_readme_lists(runs, tmp_path, interface):
    run = runs(prefork_m("--interface", interface), cwd=tmp_path)
    run.wait_ready()
    status, _, body = fetch(run.port, "GET", "/")
    assert status == 200 and body.startswith(b"Hello from prefork"), body
    status, _, body = fetch(run.port, "GET", "/headers", headers={"X-Demo": "yes"})
    assert status == 200 and json.loads(body)["x-demo"] == "yes", body
    assert fetch(run.port, "POST", "/echo", body=b"echo me") == (200, None, b"echo me")
    assert fetch(run.port, "GET", "/stream") == (200, "chunked", b"one\ntwo\nthree\n")
    assert fetch(run.port, "GET", "/nowhere?x=1") == (404, None, b"not found\n")
