"""TERM while a reload's new generation boots: the booting workers hold the listen
sockets without accepting, so the connections the kernel queued for them after the
serving workers stopped accepting were reset when they went (about 8 resets per stop,
under load; TERM promises that requests in flight finish and later ones are refused).
The booting workers now go first; and a draining server takes what the kernel queued
before it closes a listener. A real daemon, real signals and sockets; every process is
killed by PID at the end."""

import signal
import socket
import threading
import time

from daemon import alive, wait_until


def hammer(port, stop, outcomes):
    while not stop.is_set():
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except ConnectionRefusedError:
            outcomes.append("refused")
            time.sleep(0.002)  # (a refused connect returns at once: this only keeps the count down)
            continue
        except OSError as exc:
            outcomes.append(f"connect {exc!r}")
            continue
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            outcomes.append("ok" if data.startswith(b"HTTP/1.1 200 OK") else f"answered {data[:40]!r}")
        except OSError as exc:
            outcomes.append(f"reset {exc!r}")
        finally:
            sock.close()


def test_term_while_a_reload_boots_resets_no_connection(daemons):
    d = daemons(app="apps.slow_boot:setup", workers=2, env={"BOOT_SECONDS": "1.5"})
    d.wait_ready(timeout=15)
    outcomes = []
    stop = threading.Event()
    threads = [threading.Thread(target=hammer, args=(d.port, stop, outcomes)) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: outcomes.count("ok") > 50, 10, what="requests answered")
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload: starting generation 2")
        d.signal(signal.SIGTERM)
        assert d.wait_exit(20) == 0
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    bad = [o for o in outcomes if o not in ("ok", "refused")]
    # what is left is the race of any listener's close under a flood of connects (one
    # that lands between the last worker's last accept and its close is reset): a
    # client or two (three seen once on a busy CI run), where the booting workers' hold
    # reset about eight per stop
    assert len(bad) <= 4, (len(bad), bad[:5], outcomes.count("ok"))
    assert not alive(d.pid)
