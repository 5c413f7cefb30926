"""Client-controlled text in the error log: no line of it can be split or forged by a
client. Real daemons, real sockets; every process is killed by PID at the end."""

import socket

from daemon import wait_until
from harness import read_until_close

FORGED = b"%0d%0a2026-12-05%2000:00:00,000%20[1]%20CRITICAL%20prefork.master:%20FORGED%1b[2J"


def handshake(port, target):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        return read_until_close(sock)
    finally:
        sock.close()


def test_a_websocket_app_that_raises_logs_the_raw_target_not_the_decoded_path(daemons):
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=1)
    d.wait_ready(timeout=30)
    target = b"/ws/raise/" + FORGED
    assert handshake(d.port, target).startswith(b"HTTP/1.1 500 ")
    line = d.wait_log(r"Exception in ASGI application \(WebSocket ") and [
        l for l in d.log().splitlines() if "Exception in ASGI application (WebSocket" in l][0]
    assert line.endswith(f"ERROR prefork.asgi: Exception in ASGI application (WebSocket {target.decode()})"), line
    assert not any(l.startswith("2026-12-05 00:00:00,000") for l in d.log().splitlines()), d.log()
    assert "\x1b" not in d.log() and "\r" not in d.log()


def test_control_bytes_sent_raw_in_a_target_never_reach_the_error_log(daemons):
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=1)
    d.wait_ready(timeout=30)
    for target in (b"/ws/raise/\x1b[2J", b"/ws/raise/\x7fx", b"/ws/raise/\x85x\xe2\x80\xa8"):
        handshake(d.port, target)
    for target in (b"/raise-before\x1b[2J", b"/raise-before\x85"):
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        read_until_close(sock)
        sock.close()
    assert b"HTTP/1.1 200 OK" in d.request("/last")
    d.signal(15)
    d.wait_exit()
    assert "\x1b" not in d.log() and "\x7f" not in d.log() and "\x85" not in d.log(), d.log()
