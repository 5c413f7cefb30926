"""Hostile clients and misbehaving apps against the ASGI interface of the real daemon:
HTTP edges and app errors. Each case checks the answer, that the same worker serves
the next request, and that the worker's descriptors come back to where they were.
(WebSockets: test_hostile_asgi_websocket.py.)"""

import os
import socket
import struct
import subprocess

import pytest

from daemon import Daemon, wait_until
from debian import ensure
from harness import read_until_close

httpx = pytest.importorskip("httpx")

APP = "test_hostile_asgi_apps:app"


class Served:
    """One daemon with one worker serving the hostile app, shared by a module's tests."""

    def __init__(self, tmp, *args):
        self.marks = tmp
        self.daemon = Daemon("--interface", "asgi", "--keep-alive-timeout", "2", *args, app=APP, workers=1,
                             env={"HOSTILE_MARKS": str(tmp)})
        try:
            self.daemon.wait_ready()
            [self.worker] = self.daemon.wait_workers(1)
            self.port = self.daemon.port
            for _ in range(2):  # whatever the worker opens once (its first connections) is open now
                assert self.request(b"/pid").endswith(str(self.worker).encode())
            wait_until(lambda: not self.connections(), 15, what="the worker's connections closed")
            self.base_fds = self.fd_count()
        except BaseException:
            self.daemon.cleanup()  # its processes, by PID, before the failure is reported
            raise

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.worker}/fd"))

    def connections(self):
        """The worker's descriptors that are TCP connections on the daemon's port."""
        inodes = set()
        for fd in os.listdir(f"/proc/{self.worker}/fd"):
            try:
                link = os.readlink(f"/proc/{self.worker}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        found = 0
        with open("/proc/net/tcp") as fh:
            for line in list(fh)[1:]:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if port == self.port and fields[2] != "00000000:0000" and fields[9] in inodes:
                    found += 1
        return found

    def connect(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def raw(self, data, timeout=10):
        """Send ``data``, read until the server closes."""
        sock = self.connect(timeout)
        try:
            sock.sendall(data)
            return read_until_close(sock)
        finally:
            sock.close()

    def request(self, target, extra=b""):
        return self.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + b"\r\n")

    def mark(self, name, timeout=15):
        path = self.marks / name
        wait_until(path.exists, timeout, what=f"the mark {name}")
        return path.read_text()

    def peak_rss(self):
        """The worker's resident memory high-water mark, in KiB."""
        with open(f"/proc/{self.worker}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))

    def healthy(self):
        """The same worker answers, and no descriptor is left behind."""
        assert self.request(b"/pid").endswith(str(self.worker).encode())
        assert self.daemon.workers() == [self.worker]
        wait_until(lambda: not self.connections() and self.fd_count() <= self.base_fds, 15,
                   what=f"the worker's connections closed and its descriptors back to {self.base_fds}")

    def log(self):
        return self.daemon.log()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("marks"))
    yield s
    s.daemon.cleanup()


def status_of(response):
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else None


# -- the app misbehaves ---------------------------------------------------------------------
@pytest.mark.parametrize("path, logged", [
    (b"/body-before-start", "but got 'http.response.body'"),
    (b"/start-twice", "but got 'http.response.start'"),
    (b"/bad-status", "Invalid HTTP status code 99"),
    (b"/bad-status?1000", "Invalid HTTP status code 1000"),
    (b"/bad-status?101", "Invalid HTTP status code 101 in response .1xx is not a final status"),
    (b"/bad-status?103", "Invalid HTTP status code 103 in response .1xx is not a final status"),
    (b"/bad-header", "Invalid character in header content"),
    (b"/raise-after-start", "broke after the start"),
    (b"/sys-exit", "SystemExit: 3"),
    (b"/long-single", "Response content of 8 bytes for a Content-Length of 2"),
])
def test_an_app_failing_before_any_byte_is_out_gets_a_500(served, path, logged):
    response = served.request(path)
    assert status_of(response) == 500, response
    assert response.endswith(b"\r\n\r\nInternal Server Error") and b"injected" not in response
    served.daemon.wait_log(logged)
    served.healthy()


def test_receive_after_the_response_is_a_disconnect_even_with_the_body_unread(served):
    response = served.raw(b"POST /receive-after-response HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                          b"Connection: close\r\n\r\nhello")
    assert status_of(response) == 200 and response.endswith(b"\r\n\r\nok"), response
    assert served.mark("receive-after-response") == "{'type': 'http.disconnect'}"
    served.healthy()


def test_an_app_raising_mid_body_cuts_the_chunked_response(served):
    response = served.request(b"/raise-mid-body")
    assert status_of(response) == 200 and response.endswith(b"\r\n7\r\npartial\r\n")  # no last chunk
    served.daemon.wait_log("broke mid-body")
    served.healthy()


def test_a_body_after_the_end_raises_in_the_app_and_the_response_stands(served):
    response = served.request(b"/body-after-end")
    assert status_of(response) == 200 and response.endswith(b"\r\n\r\ndone")
    assert "after response already completed" in served.mark("body-after-end")
    served.healthy()


@pytest.mark.parametrize("path", [b"/short-body", b"/long-body"])
def test_a_body_disagreeing_with_its_content_length_closes_the_kept_alive_connection(served, path):
    # a second request waits behind the first: were the connection kept, the client
    # would read the first body at a wrong length and the second response from its middle
    response = served.raw(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\nGET /pid HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert status_of(head) == 200 and b"content-length: " in head
    declared = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
    assert len(body) <= declared and b"HTTP/1.1" not in body, response
    served.daemon.wait_log("Response content (shorter|longer) than Content-Length")
    served.healthy()


def test_a_string_body_is_sent_as_utf8(served):
    # Node's res.write takes strings; bytes are what the spec asks for, a str is not refused
    response = served.request(b"/str-body")
    assert status_of(response) == 200 and response.endswith("\r\n\r\nnot bytes: é".encode())
    served.healthy()


@pytest.mark.parametrize("query", [b"int", b"int&stream", b"list", b"list&stream"])
def test_a_body_of_another_type_is_a_500(served, query):
    response = served.request(b"/odd-body?" + query)
    assert status_of(response) == 500, response
    served.daemon.wait_log("'body' must be bytes, not (int|list)")
    served.healthy()


def test_a_memoryview_body_of_another_format_counts_its_bytes(served):
    response = served.request(b"/odd-body?view")
    assert status_of(response) == 200 and b"\r\nContent-Length: 8\r\n" in response
    assert response.endswith(b"\r\n\r\n" + bytes(range(8)))
    response = served.request(b"/odd-body?view&stream")
    assert response.endswith(b"\r\n\r\n8\r\n" + bytes(range(8)) + b"\r\n8\r\n" + bytes(range(8)) + b"\r\n0\r\n\r\n")
    served.healthy()


def test_a_none_body_is_an_empty_one(served):
    response = served.request(b"/odd-body?none")
    assert status_of(response) == 200 and b"\r\nContent-Length: 0\r\n" in response
    assert response.endswith(b"\r\n\r\n")
    response = served.request(b"/odd-body?none&stream")
    assert status_of(response) == 200 and response.endswith(b"\r\n\r\n0\r\n\r\n")
    served.healthy()


def test_an_app_that_never_answers_keeps_running_but_the_reset_socket_is_freed(served):
    sock = served.connect()
    sock.sendall(b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
    assert served.mark("never") == "waiting"
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # the client gives up (a half-close would wait for request_timeout, as Node does)
    served.healthy()
    assert served.mark("never") == "waiting"  # not cancelled: as with uvicorn, the app decides


# -- the request is odd ------------------------------------------------------------------------
def test_header_values_with_non_ascii_bytes_reach_the_scope_as_bytes(served):
    response = served.request(b"/scope", b"X-Bin: \xff\xfe\x80 caf\xc3\xa9\r\n")
    assert status_of(response) == 200
    assert ("['782d62696e', '" + b"\xff\xfe\x80 caf\xc3\xa9".hex() + "']").encode() in response
    served.healthy()


def test_escapes_and_a_fragment_in_the_target(served):
    response = served.request(b"/scope/%2f%ff%e2%82%ac?q=%zz%ff&r#frag")
    body = eval(response.partition(b"\r\n\r\n")[2].decode())  # the app's repr of what it saw
    assert body["path"] == "/scope//\ufffd\u20ac"  # decoded: %2f a slash, %ff not UTF-8
    assert bytes.fromhex(body["raw_path"]) == b"/scope/%2f%ff%e2%82%ac"
    assert bytes.fromhex(body["query"]) == b"q=%zz%ff&r"  # as sent, without the fragment
    response = served.request(b"/other#x?y")
    assert response.endswith(b"\r\n\r\npath /other")
    served.healthy()


@pytest.mark.parametrize("target", [b"http://h/scope/x?q=1", b"HTTP://H/scope/x?q=1", b"Https://h:8443/scope/x?q=1",
                                    b"wS://h/scope/x?q=1"])
def test_an_absolute_form_target_is_its_path_whatever_the_case_of_its_scheme(served, target):
    # RFC 3986 3.1: a scheme is case-insensitive (the WSGI environ reads it so too)
    body = eval(served.request(target).partition(b"\r\n\r\n")[2].decode())
    assert (body["path"], bytes.fromhex(body["raw_path"]), bytes.fromhex(body["query"])) == \
        ("/scope/x", b"/scope/x", b"q=1")
    served.healthy()


def test_raw_non_ascii_bytes_in_the_target_are_refused_by_the_parser(served):
    assert status_of(served.request(b"/caf\xc3\xa9")) == 400
    served.healthy()


@pytest.mark.parametrize("upgrade", [b"h2c", b"foo/1, bar", b"TLS/1.2", b"notwebsocket", b"websocketx/13"])
def test_an_upgrade_to_another_protocol_is_served_as_http_with_what_follows(served, upgrade):
    # as uvicorn and Node (no upgrade listener) serve it; the pipelined request after it
    # is answered too
    response = served.raw(b"GET /scope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: "
                          + upgrade + b"\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
                          b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(response) == 200, response
    assert response.count(b"HTTP/1.1 200 OK\r\n") == 2 and response.endswith(str(served.worker).encode())
    served.healthy()


def test_curl_asking_for_http2_over_plain_http_gets_its_answer_in_http1(served):
    curl, why = ensure("curl", "curl")
    assert curl is not None, why  # the client under test: missing is a failure, not a pass
    result = subprocess.run([curl, "-sS", "--http2", "-o", "-", "-w", "\n%{http_code} %{http_version}",
                             f"http://127.0.0.1:{served.port}/pid"], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(b"\n200 1.1") and str(served.worker).encode() in result.stdout, result.stdout
    served.healthy()


@pytest.mark.parametrize("how", [b"whole", b"stream"])
@pytest.mark.parametrize("coding, framed", [(b"gzip", False), (b"identity", False), (b"chunked,%20gzip", False),
                                            (b"gzip,%20chunked", True), (b"chunked", True)])
def test_a_transfer_encoding_not_ending_in_chunked_is_a_close_delimited_body(served, coding, framed, how):
    # RFC 9112 6.3: the client reads such a body to the close; kept alive, it would take
    # the next response on the connection for the rest of this body
    response = served.raw(b"GET /coded?" + coding + b"&" + how + b" HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    head += b"\r\n"
    assert status_of(response) == 200, response
    if framed:  # chunked last: framed, kept alive, the next request answered
        assert b"\r\nConnection: keep-alive\r\n" in head and body.startswith(b"5\r\nhello\r\n0\r\n\r\n") \
            or body.startswith(b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"), response
        assert body.endswith(str(served.worker).encode())
    else:  # the body runs to the close, and no response follows it
        assert b"\r\nConnection: close\r\n" in head and b"HTTP/1.1" not in body, response
        assert body == b"hello" or coding.startswith(b"chunked")  # (chunked first: the app's mistake)
    served.healthy()


def test_expect_100_continue_then_the_body(served):
    sock = served.connect()
    sock.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                 b"Connection: close\r\n\r\n")
    interim = b""
    while b"\r\n\r\n" not in interim:
        chunk = sock.recv(1)
        assert chunk, interim
        interim += chunk
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(b"hello")
    response = read_until_close(sock)
    sock.close()
    assert status_of(response) == 200 and response.partition(b"\r\n\r\n")[2].startswith(b"5 ")
    served.healthy()


def test_a_client_gone_mid_body_is_an_http_disconnect_and_stays_one(served):
    sock = served.connect()
    sock.sendall(b"POST /disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 5000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert served.mark("disconnect") == "reading"
    sock.close()  # a reset mid-body
    wait_until(lambda: served.mark("disconnect") != "reading", 15, what="the app's disconnect")
    total, again = served.mark("disconnect").split()
    assert 0 < int(total) <= 5000 and again == "http.disconnect"
    served.healthy()


def test_pipelined_requests_to_a_slow_app_are_answered_in_order(served):
    requests = b"".join(b"GET /slow?" + delay + b" HTTP/1.1\r\nHost: x\r\n\r\n" for delay in (b"0.3", b"0", b"0.1"))
    response = served.raw(requests + b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    bodies = [part.split(b"\r\n\r\n", 1)[1][:9] for part in response.split(b"HTTP/1.1 200 OK")[1:]]
    assert bodies[:3] == [b"slow 0.3", b"slow 0", b"slow 0.1"] and len(bodies) == 4
    served.healthy()


def test_a_huge_request_body_streams_through_in_bounded_memory(served):
    size = 256 << 20
    before = served.peak_rss()
    sock = served.connect(timeout=60)
    sock.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"%x\r\n%b\r\n" % (1 << 20, b"b" * (1 << 20))
    for _ in range(size >> 20):
        sock.sendall(block)
    sock.sendall(b"0\r\n\r\n")
    response = read_until_close(sock)
    sock.close()
    total, peak = response.partition(b"\r\n\r\n")[2].split()
    assert int(total) == size
    assert int(peak) - before < 64 * 1024, f"the worker's peak memory grew from {before} to {peak} KiB"
    served.healthy()


def test_errors_are_logged_with_the_request(served):
    served.request(b"/start-twice?logged")
    served.daemon.wait_log(r"ERROR prefork\.asgi: Exception in ASGI application \(GET /start-twice\?logged\)")
    served.healthy()


def test_root_path_is_prefixed_to_path_and_raw_path(tmp_path):
    s = Served(tmp_path, "--root-path", "/mount/")
    try:
        body = eval(s.request(b"/scope?a=%20").partition(b"\r\n\r\n")[2].decode())
        assert body["root_path"] == "/mount" and body["path"] == "/mount/scope"
        assert bytes.fromhex(body["raw_path"]) == b"/mount/scope" and bytes.fromhex(body["query"]) == b"a=%20"
        s.healthy()
    finally:
        s.daemon.cleanup()


# -- lifespan ------------------------------------------------------------------------------------
def test_a_lifespan_raising_in_auto_mode_is_unsupported_and_the_worker_serves(daemons):
    d = daemons("--interface", "asgi", app="test_hostile_asgi_apps:lifespan_raises", workers=1)
    d.wait_ready()
    d.wait_log(r"ASGI 'lifespan' protocol appears unsupported")
    assert d.request("/").endswith(b"served")


def test_a_lifespan_raising_after_startup_failed_is_a_boot_failure(daemons):
    d = daemons("--interface", "asgi", app="test_hostile_asgi_apps:lifespan_fails_then_raises", workers=1)
    assert d.wait_exit(30) == 3
    log = d.log()
    assert "no database" in log and "failed to boot" in log and log.count("booting worker 0") == 1


def test_a_lifespan_answering_an_unknown_message_fails_the_boot_with_on(daemons):
    d = daemons("--interface", "asgi", "--lifespan", "on", app="test_hostile_asgi_apps:lifespan_wrong_message",
                workers=1)
    assert d.wait_exit(30) == 3
    assert "Unexpected ASGI lifespan message 'lifespan.startup.done'" in d.log()


def test_threads_given_to_an_asgi_app_are_named_as_unused_at_boot():
    daemon = Daemon("--interface", "asgi", "--threads", "4", app=APP, workers=1)
    try:
        daemon.wait_ready()
        daemon.wait_log(r"argv:--threads: has no effect on an ASGI app \(it runs on the worker's event loop: run "
                        r"blocking calls with loop.run_in_executor\)")
        response = daemon_request(daemon.port, b"/pid")
        assert status_of(response) == 200
    finally:
        daemon.cleanup()


def daemon_request(port, target):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)
