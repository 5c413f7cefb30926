"""Reloads (HUP) under an operator's rough handling: workers of the booting generation
that die, signals meanwhile. Real daemons, real signals; every process is killed by PID
at the end (the ``daemons`` fixture)."""

import json
import os
import signal
import socket
import textwrap

from daemon import alive, wait_until
from harness import read_until_close

# With GATE.hold present, the first worker to boot serves at once and every other one
# waits until the file is gone: one new worker ready, the others still booting.
SPLIT_APP = """
import os
import time

GATE = os.environ["GATE"]


def setup(server):
    if os.path.exists(GATE + ".hold"):
        try:
            os.close(os.open(GATE + ".first", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            while os.path.exists(GATE + ".hold"):
                time.sleep(0.02)
    server.on("request", lambda req, res: res.end(str(os.getpid())))
"""


def split_daemon(daemons, tmp_path, *args, workers=2):
    (tmp_path / "split.py").write_text(textwrap.dedent(SPLIT_APP))
    gate = str(tmp_path / "gate")
    d = daemons("--app-dir", str(tmp_path), *args, app="split:setup", workers=workers, env={"GATE": gate})
    d.wait_ready()
    return d, tmp_path / "gate.hold"


def status(d):
    sock = socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=10)
    try:
        sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    return json.loads(body)


def of_generation(d, generation, state=None):
    return sorted(w["pid"] for w in status(d)["workers"]
                  if w["generation"] == generation and (state is None or w["state"] == state))


def test_a_ready_new_worker_that_dies_before_the_switch_over_is_replaced_and_the_reload_completes(daemons, tmp_path):
    d, hold = split_daemon(daemons, tmp_path)
    old = of_generation(d, 1)
    hold.touch()
    d.signal(signal.SIGHUP)
    ready = wait_until(lambda: of_generation(d, 2, "serving"), 10, what="one new worker ready")
    assert len(of_generation(d, 2)) == 2  # the other still boots
    victim, = ready
    os.kill(victim, signal.SIGKILL)
    d.wait_log(rf"worker \d \(pid {victim}\) died \(signal SIGKILL\)")
    hold.unlink()
    d.wait_log(r"reload: generation 2 ready; 2 old workers draining")
    wait_until(lambda: not any(alive(pid) for pid in old), 10, what="the old generation gone")
    new = of_generation(d, 2, "serving")
    assert len(new) == 2 and victim not in new
    assert status(d)["master"]["generation"] == 2
    d.signal(signal.SIGTTIN)  # the daemon takes count changes again
    d.wait_log(r"TTIN: 3 workers")


BROKEN_APP = """
import os


def setup(server):
    if os.path.exists(os.environ["GATE"] + ".broken"):
        raise RuntimeError("the app on disk is broken")
    server.on("request", lambda req, res: res.end(str(os.getpid())))
"""


def test_an_abandoned_reload_leaves_the_master_logging_where_it_did(daemons, tmp_path):
    (tmp_path / "breakable.py").write_text(textwrap.dedent(BROKEN_APP))
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    config = tmp_path / "prefork.toml"
    config.write_text(f'error_log = "{first}"\n')
    d = daemons("--app-dir", str(tmp_path), "--config", str(config), app="breakable:setup", workers=1,
                env={"GATE": str(tmp_path / "gate")})
    wait_until(lambda: first.exists() and "workers ready" in first.read_text(), 10, what="ready in the first log")
    config.write_text(f'error_log = "{second}"\nlog_level = "error"\n')
    (tmp_path / "gate.broken").touch()
    d.signal(signal.SIGHUP)
    wait_until(lambda: second.exists() and "reload refused" in second.read_text() + first.read_text(), 10,
               what="the reload refused")
    d.signal(signal.SIGTTIN)  # logged at info, where the running configuration says
    wait_until(lambda: "TTIN: 2 workers" in first.read_text(), 10,
               what=lambda: f"TTIN in the first log:\n{first.read_text()}\nsecond:\n{second.read_text()}")
    assert "TTIN" not in second.read_text()
