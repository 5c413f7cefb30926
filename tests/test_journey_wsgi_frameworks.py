"""Real Flask 3 and Django 5 apps, unchanged, on prefork (on the loop and on threads) and
on gunicorn side by side: uploads through ``request.files``/``request.FILES``, chunked
and form bodies, ``stream_with_context`` and ``StreamingHttpResponse`` arriving block by
block, ``send_file``/``FileResponse`` of many sizes (sendfile), HEAD, 304, ranges, a
non-ASCII path, 204. Clients: httpx and curl."""

import hashlib
import json
import os
import shutil
import socket
import subprocess

import pytest

from daemon import Daemon
from journey_peers import Gunicorn

httpx = pytest.importorskip("httpx")
pytest.importorskip("flask")
pytest.importorskip("django")

FLASK = "apps.journey_flask:create_app()"
DJANGO = "apps.journey_django.wsgi:application"
SERVERS = ["prefork-loop", "prefork-threads", "gunicorn"]


def _start(kind, app):
    if kind == "gunicorn":
        server = Gunicorn(app, threads=4)
    else:
        server = Daemon("--interface", "wsgi", "--threads", "1" if kind == "prefork-loop" else "4",
                        "--timeout", "20", app=app, workers=1)
    try:
        server.wait_ready()
    except BaseException:
        server.cleanup()
        raise
    return server


@pytest.fixture(scope="module", params=SERVERS)
def flask_server(request):
    server = _start(request.param, FLASK)
    server.kind = request.param
    yield server
    server.cleanup()


@pytest.fixture(scope="module", params=SERVERS)
def django_server(request):
    server = _start(request.param, DJANGO)
    server.kind = request.param
    yield server
    server.cleanup()


def _url(server, path):
    return f"http://127.0.0.1:{server.port}{path}"


def _multipart(boundary, fields, files):
    parts = []
    for name, value in fields:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode())
    for name, filename, data in files:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def _digest(data):
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_flask_multipart_upload_of_a_few_megabytes(flask_server):
    big, small = os.urandom(3 * 1024 * 1024 + 17), b"tiny\r\n--not-a-boundary\r\n"
    body = _multipart("jb0undary", [("note", "hi"), ("tag", "a"), ("tag", "b")],
                      [("big", "big.bin", big), ("small", "s.txt", small)])
    with httpx.Client(timeout=30) as client:
        response = client.post(_url(flask_server, "/upload"), content=body,
                               headers={"Content-Type": "multipart/form-data; boundary=jb0undary"})
    assert response.status_code == 200, response.text
    assert response.json() == {"fields": {"note": ["hi"], "tag": ["a", "b"]},
                               "files": {"big": {"filename": "big.bin", **_digest(big)},
                                         "small": {"filename": "s.txt", **_digest(small)}}}


def test_flask_chunked_body_is_read_to_its_end(flask_server):
    data = os.urandom(700 * 1024)

    def pieces():
        for at in range(0, len(data), 50000):
            yield data[at:at + 50000]
    with httpx.Client(timeout=30) as client:
        response = client.post(_url(flask_server, "/body"), content=pieces())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 200
    got = response.json()
    assert {"size": got["size"], "sha256": got["sha256"]} == _digest(data)


def _read_until(sock, marker, limit=20):
    sock.settimeout(limit)
    data = b""
    while marker not in data:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_flask_stream_with_context_arrives_block_by_block(flask_server, tmp_path):
    _stream_arrives_block_by_block(flask_server, tmp_path, "flask")


def test_django_streaming_response_arrives_block_by_block(django_server, tmp_path):
    _stream_arrives_block_by_block(django_server, tmp_path, "django")


def _stream_arrives_block_by_block(server, tmp_path, which):
    fifo = str(tmp_path / "next")
    os.mkfifo(fifo)
    path = f"/stream?fifo={fifo}&who=ada"
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        early = _read_until(sock, b"first", limit=10)
        with open(fifo, "wb") as fh:
            fh.write(b"x")
        rest = _read_until(sock, b"0\r\n\r\n")
    finally:
        sock.close()
    assert b"first" in early and b"second" not in early, early
    assert b"second" in rest
    if which == "flask":  # stream_with_context: the request is still there in the generator
        assert b"first ada\n" in early and b"second /stream\n" in rest


SIZES = [0, 1, 8191, 65536, 65537, 3 * 1024 * 1024 + 1]


def _expected(size, modulus):
    return bytes(i % modulus for i in range(size))


def test_flask_send_file_of_many_sizes_head_304_and_ranges(flask_server):
    with httpx.Client(timeout=30) as client:
        for size in SIZES:
            url = _url(flask_server, f"/file/{size}")
            got = client.get(url)
            assert got.status_code == 200 and got.content == _expected(size, 251), size
            assert got.headers["content-length"] == str(size)
            head = client.head(url)
            assert head.status_code == 200 and head.content == b""
            assert head.headers["content-length"] == str(size) and head.headers["etag"] == got.headers["etag"]
            again = client.get(url, headers={"If-None-Match": got.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
            if size > 10:
                part = client.get(url, headers={"Range": "bytes=3-9"})
                assert part.status_code == 206 and part.content == _expected(size, 251)[3:10]
                assert part.headers["content-range"] == f"bytes 3-9/{size}"
        # the connection was kept alive across all of them, and is still good
        assert client.get(_url(flask_server, "/file/1")).content == b"\x00"


def test_django_file_response_of_many_sizes_with_curl(django_server, tmp_path):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    for size in SIZES:
        out = tmp_path / f"{size}.bin"
        proc = subprocess.run([curl, "-sS", "-o", str(out), "-w", "%{http_code} %{size_download}",
                               _url(django_server, f"/download/{size}")], capture_output=True, text=True, timeout=60)
        assert proc.stdout == f"200 {size}", proc.stderr
        assert out.read_bytes() == _expected(size, 253)


def test_flask_non_ascii_path_and_a_204(flask_server):
    with httpx.Client(timeout=30) as client:
        got = client.get(_url(flask_server, "/caf%C3%A9/%E2%82%AC%20x"))
        assert got.status_code == 200
        assert got.json() == {"name": "\u20ac x", "path": "/caf\u00e9/\u20ac x",
                              "raw": "/caf\u00e9/\u20ac x".encode().decode("latin-1")}
        empty = client.get(_url(flask_server, "/nothing"))
        assert empty.status_code == 204 and empty.content == b""
        assert "content-length" not in empty.headers and "transfer-encoding" not in empty.headers


def test_django_upload_form_and_body(django_server):
    big = os.urandom(2 * 1024 * 1024 + 3)
    body = _multipart("djb0undary", [("name", "Ada Lovelace")], [("doc", "notes.bin", big)])
    with httpx.Client(timeout=30) as client:
        got = client.post(_url(django_server, "/upload"), content=body,
                          headers={"Content-Type": "multipart/form-data; boundary=djb0undary"})
        assert got.status_code == 200, got.text
        assert got.json() == {"fields": {"name": ["Ada Lovelace"]},
                              "files": {"doc": {"filename": "notes.bin", **_digest(big)}}}
        form = client.post(_url(django_server, "/upload"), data={"a": "1", "b": ["x", "y"]})
        assert form.json() == {"fields": {"a": ["1"], "b": ["x", "y"]}, "files": {}}
        raw = os.urandom(300000)
        assert client.post(_url(django_server, "/body"), content=raw).json() == _digest(raw)
        where = client.get(_url(django_server, "/caf%C3%A9?q=%2F"))
        assert where.json()["path"] == "/caf\u00e9" and where.json()["remote"] == "127.0.0.1"
        assert where.json()["uri"] == f"http://127.0.0.1:{django_server.port}/caf%C3%A9?q=%2F"
