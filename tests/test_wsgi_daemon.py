"""WSGI apps through the real daemon: a Flask app unchanged, a 200 MB stream, failures."""

import hashlib
import http.client
import json
import os
import re
import urllib.parse

import pytest


flask = pytest.importorskip("flask")


def test_flask_app_runs_unchanged(daemons):
    d = daemons("--interface", "wsgi", app="apps.flask_app:app", workers=2)
    d.wait_ready()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=20)

    def call(method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()

    response, body = call("GET", "/json", headers={"User-Agent": "tester/1"})
    assert response.status == 200 and response.getheader("Content-Type") == "application/json"
    assert json.loads(body) == {"ok": True, "items": [1, 2, 3], "agent": "tester/1"}

    form = urllib.parse.urlencode([("name", "Ada"), ("tag", "a"), ("tag", "b")])
    response, body = call("POST", "/form", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert json.loads(body) == {"name": "Ada", "tags": ["a", "b"]}

    payload = os.urandom(5 * 1024 * 1024)
    boundary = "prefork-boundary-7d1"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
                 f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob.bin\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    response, body = call("POST", "/upload", multipart, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status == 200
    assert json.loads(body) == {"filename": "blob.bin", "size": len(payload),
                                "sha256": hashlib.sha256(payload).hexdigest(), "note": "hi"}

    response, body = call("GET", "/stream")
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert body == b"".join(f"line {i}\n".encode() for i in range(5))

    response, body = call("GET", "/go")
    assert response.status == 302 and response.getheader("Location") == "/json"

    response, body = call("GET", "/cookie/set")
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith("flavour=oatmeal")
    response, body = call("GET", "/cookie/get", headers={"Cookie": "flavour=oatmeal"})
    assert body == b"oatmeal"

    response, body = call("GET", "/boom")  # the exception: a 500, the traceback in the log
    assert response.status == 500
    response, body = call("GET", "/json")  # the same connection is still served
    assert response.status == 200
    d.wait_log(r"the Flask view broke")
    assert "Traceback" in d.log()
    conn.close()


def test_a_200_mb_stream_keeps_the_worker_small(daemons):
    d = daemons("--interface", "wsgi", app="apps.wsgi_apps:big", workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    conn.request("GET", "/")
    response = conn.getresponse()
    total = 0
    while True:
        chunk = response.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    assert total == 200 * 1024 * 1024
    with open(f"/proc/{worker}/status") as fh:
        peak = int(re.search(r"VmHWM:\s+(\d+) kB", fh.read()).group(1)) * 1024
    assert peak < 60 * 1024 * 1024, peak
    conn.close()


def test_wsgi_exception_gives_500_logs_and_keeps_serving(daemons, tmp_path):
    d = daemons("--interface", "wsgi", app="apps.flask_app:app", workers=1)
    d.wait_ready()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    conn.request("GET", "/boom")
    response = conn.getresponse()
    assert response.status == 500 and response.read()
    conn.request("GET", "/cookie/get")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"none"
    d.wait_log(r"RuntimeError: the Flask view broke")
