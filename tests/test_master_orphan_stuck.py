"""A worker whose master is killed outright (SIGKILL, a crash) while its app is stuck in
a call ends by itself within graceful_timeout and a margin, its stack in the error log,
so that it does not hold the listen socket for ever and a restart binds at once."""

import os
import signal
import socket

from daemon import Daemon, alive, scratch_dir, wait_until


def listening(port):
    """Whether any process still listens on the TCP port (from /proc/net/tcp)."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.read().splitlines()[1:]]
    return any(int(row[1].split(":")[1], 16) == port and row[3] == "0A" for row in rows)


def test_stuck_workers_end_when_the_master_is_killed():
    note = os.path.join(scratch_dir("prefork-stuck-"), "calls")
    d = Daemon(app="apps.stuck_calls:app", workers=2, graceful_timeout="1", env={"STUCK_CALLS_NOTE": note})
    clients = []
    try:
        d.wait_ready()
        stuck = []
        for path in ("/spin", "/sleep"):  # one stuck worker each: the second is sent once the first is stuck
            sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            clients.append(sock)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            stuck = wait_until(lambda: (lambda pids: pids if len(pids) > len(stuck) else None)(
                sorted(set(open(note).read().split())) if os.path.exists(note) else []), 10, what=f"{path} to start")
        workers = d.workers()
        assert sorted(int(pid) for pid in stuck) == workers
        d.signal(signal.SIGKILL)
        d.wait_exit(5)
        # graceful_timeout 1 s + the 2 s margin, with room for a loaded host
        wait_until(lambda: not any(alive(pid) for pid in workers), 10, what=lambda: f"the workers to end:\n{d.log()}")
        assert not listening(d.port)  # a restart can bind it
        log = d.log()
        assert log.count("is gone: this worker ends by itself within 3.0 s") == 2, log
        assert log.count("Timeout (0:00:03)!") == 2, log  # each one's stack, where the app was stuck
        assert log.count('stuck_calls.py", line 1') == 2 and 'stuck_calls.py", line 14 in app' in log, log
    finally:
        for sock in clients:
            sock.close()
        d.cleanup()
