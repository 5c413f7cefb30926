"""A reload's switch-over when a worker of the new generation dies while
``readiness_withdraw`` holds it: its replacement must be ready before the old generation
drains, and a replacement that fails to boot abandons the reload (the old generation
serves on). The switch-over used to come at the end of the wait whatever the new
generation's state: the old workers drained while the replacement was still booting (here,
hung in its set-up), and no worker accepted (requests waited, then timed out). An
abandoned reload's wait also went on running, and switched over the next reload's
generation before it was ready.

Real daemons, real signals, real sockets on 127.0.0.1; every process is killed by PID at
the end (the ``daemons`` fixture)."""

import json
import os
import signal
import socket
import textwrap
import time

from daemon import alive, wait_until
from harness import read_until_close

# A worker started while HANG exists waits in its set-up: "block N" blocks its loop for N
# seconds (no heartbeat: the master aborts it at ``timeout``), "wait N" awaits N seconds
# (heartbeating: a slow boot, not a hang).
HANGING_APP = """
import asyncio
import os
import time


async def setup(server):
    path = os.environ["HANG"]
    if os.path.exists(path):
        with open(path) as fh:
            how, seconds = fh.read().split()
        if how == "block":
            time.sleep(float(seconds))
        else:
            await asyncio.sleep(float(seconds))
    server.on("request", lambda req, res: res.end(str(os.getpid())))
"""


def start(daemons, tmp_path, *args):
    (tmp_path / "hanging.py").write_text(textwrap.dedent(HANGING_APP))
    hang = tmp_path / "hang"
    d = daemons("--app-dir", str(tmp_path), *args, app="hanging:setup", workers=1, env={"HANG": str(hang)})
    d.wait_ready()
    return d, hang


def get(port, path, timeout=3):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    finally:
        sock.close()
    return int(head.split()[1]), body.decode()


def status(d):
    code, body = get(d.metrics_port(), "/status.json")
    assert code == 200
    return json.loads(body)


def new_worker(d, old):
    return wait_until(lambda: [p for p in d.workers() if p not in old], 10, what="the new worker")[0]


def test_the_switch_over_waits_for_a_replaced_new_worker_and_a_failed_one_abandons_the_reload(daemons, tmp_path):
    d, hang = start(daemons, tmp_path, "--readiness-withdraw", "0.5", "--timeout", "3")
    old, = d.workers()
    d.signal(signal.SIGHUP)
    d.wait_log(r"readiness withdrawn")
    victim = new_worker(d, [old])
    hang.write_text("block 30")  # its replacement hangs in its set-up
    os.kill(victim, signal.SIGKILL)
    d.wait_log(r"booting worker 0 \(pid \d+, generation 2\)", count=2)
    d.wait_log(r"generation 2 waits for a replaced worker|generation 2 ready; 1 old worker draining")
    assert "generation 2 ready" not in d.log()
    # the old generation still serves, readiness stays withdrawn
    assert alive(old)
    assert d.request("/", timeout=2).endswith(str(old).encode())
    assert get(d.metrics_port(), "/readyz")[0] == 503
    # the replacement is aborted at timeout: the reload is abandoned
    d.wait_log(r"reload aborted: a new worker failed to boot")
    assert alive(old)
    assert d.request("/", timeout=2).endswith(str(old).encode())
    wait_until(lambda: get(d.metrics_port(), "/readyz")[0] == 200, 5, what="ready again")
    master = status(d)["master"]
    assert (master["generation"], master["reload_failures"]) == (1, 1)
    # and a reload that can boot completes
    hang.unlink()
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 2 ready; 1 old worker draining")
    wait_until(lambda: not alive(old), 10, what="the old worker gone")
    assert d.request("/", timeout=2).startswith(b"HTTP/1.1 200 OK")


def test_an_abandoned_reload_does_not_switch_over_the_next_one_before_it_is_ready(daemons, tmp_path):
    d, hang = start(daemons, tmp_path, "--readiness-withdraw", "2", "--timeout", "1")
    old, = d.workers()
    d.signal(signal.SIGHUP)
    d.wait_log(r"readiness withdrawn")
    waited_until = time.monotonic() + 2  # when the abandoned reload's wait ends
    victim = new_worker(d, [old])
    hang.write_text("block 30")
    os.kill(victim, signal.SIGKILL)
    d.wait_log(r"reload aborted: a new worker failed to boot", timeout=5)
    hang.write_text("wait 3")  # the next reload's worker boots slowly, but boots
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: starting generation 2", count=2)
    # past the end of the first reload's wait, the old worker still serves
    wait_until(lambda: time.monotonic() > waited_until + 0.3, 5, what="the first wait over")
    assert "generation 2 ready" not in d.log()
    assert alive(old)
    assert d.request("/", timeout=2).endswith(str(old).encode())
    d.wait_log(r"reload: generation 2 ready; 1 old worker draining", timeout=10)
    wait_until(lambda: not alive(old), 10, what="the old worker gone")
    assert d.request("/", timeout=2).startswith(b"HTTP/1.1 200 OK")


def test_a_replacement_not_ready_within_timeout_abandons_the_reload(daemons, tmp_path):
    # (new workers that keep dying, or boot slowly: readiness is not withdrawn for ever)
    d, hang = start(daemons, tmp_path, "--readiness-withdraw", "0.3", "--timeout", "1")
    old, = d.workers()
    d.signal(signal.SIGHUP)
    d.wait_log(r"readiness withdrawn")
    victim = new_worker(d, [old])
    hang.write_text("wait 5")  # its replacement heartbeats, but is not ready for 5 s
    os.kill(victim, signal.SIGKILL)
    d.wait_log(r"generation 2 waits for a replaced worker")
    d.wait_log(r"reload aborted: a worker replacing a new one was not ready within timeout", timeout=5)
    assert alive(old)
    assert d.request("/", timeout=2).endswith(str(old).encode())
    wait_until(lambda: get(d.metrics_port(), "/readyz")[0] == 200, 5, what="ready again")
    master = status(d)["master"]
    assert (master["generation"], master["reload_failures"]) == (1, 1)
    assert "not ready within timeout" in master["last_reload_error"]
