"""Plain WSGI apps for the daemon tests."""

BLOCK = b"z" * 65536


def big(environ, start_response):
    """200 MB streamed as a generator of 64 KiB blocks."""
    size = int(environ.get("QUERY_STRING") or 200 * 1024 * 1024)
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])

    def blocks():
        sent = 0
        while sent < size:
            block = BLOCK[:size - sent]
            sent += len(block)
            yield block
    return blocks()


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


# -- apps for the threaded WSGI tests (threads > 1) ---------------------------------------------------
import hashlib  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

_running = {"now": 0, "max": 0}
_running_lock = threading.Lock()
_barrier = threading.Barrier(8, timeout=20)


def slow(environ, start_response):
    """Waits 200 ms (a database); answers with how many calls ran at once at most."""
    with _running_lock:
        _running["now"] += 1
        _running["max"] = max(_running["max"], _running["now"])
    try:
        if environ["PATH_INFO"] == "/barrier":
            _barrier.wait()  # passes only when 8 calls run at the same time
        else:
            time.sleep(0.2)
    finally:
        with _running_lock:
            _running["now"] -= 1
    body = f"{_running['max']} {threading.current_thread().name} {environ['wsgi.multithread']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def digest(environ, start_response):
    """Reads the body in 64 KiB pieces on its thread (after a pause of as many seconds as
    the query string says); answers its size and SHA-256."""
    time.sleep(float(environ.get("QUERY_STRING") or 0))
    stream = environ["wsgi.input"]
    sha = hashlib.sha256()
    size = 0
    while True:
        block = stream.read(65536)
        if not block:
            break
        sha.update(block)
        size += len(block)
    body = f"{size} {sha.hexdigest()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def sleepy(environ, start_response):
    """Runs past a short worker timeout: seconds from the query string."""
    environ["wsgi.errors"].write(f"sleepy: {environ['QUERY_STRING']} s\n")
    time.sleep(float(environ.get("QUERY_STRING") or 2))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"awake"]
