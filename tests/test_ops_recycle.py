"""Replacing a worker (``max_requests``, ``max_worker_memory``) when its replacement
cannot boot: the old worker serves on, and the replacement is tried again (backing off)
until one boots. Real daemons, real signals; every process is killed by PID at the end."""

import re
import textwrap

from daemon import wait_until

APP = """
import os


def setup(server):
    if os.path.exists(os.environ["GATE"] + ".broken"):
        raise RuntimeError("the app on disk is broken")

    def on_request(req, res):
        if req.url.startswith("/grow/"):  # keeps N MiB, touched, for the life of the worker
            server.ballast = bytearray(int(req.url.rsplit("/", 1)[1]) * 1024 * 1024)
            for offset in range(0, len(server.ballast), 4096):
                server.ballast[offset] = 1
        res.end(str(os.getpid()))
    server.on("request", on_request)
"""


def start(daemons, tmp_path, *args):
    (tmp_path / "recycled.py").write_text(textwrap.dedent(APP))
    gate = str(tmp_path / "gate")
    d = daemons("--app-dir", str(tmp_path), *args, app="recycled:setup", workers=1, env={"GATE": gate})
    d.wait_ready(timeout=10)
    return d, tmp_path / "gate.broken"


def served_by(d, path="/"):
    return int(d.request(path).partition(b"\r\n\r\n")[2])


def test_a_max_requests_replacement_that_fails_to_boot_is_tried_again_until_one_boots(daemons, tmp_path):
    d, broken = start(daemons, tmp_path, "--max-requests", "3")
    (first,) = d.workers()
    broken.touch()  # the replacement fails to boot
    for _ in range(3):
        assert served_by(d) == first
    d.wait_log(r"the app failed to load", count=2)  # tried again, not given up
    assert served_by(d) == first  # the old worker serves on meanwhile
    assert re.search(rf"started to replace pid {first} \(reached max_requests\), failed to boot \(exit status 3\): "
                     rf"RuntimeError: the app on disk is broken; pid {first} serves on", d.log()), d.log()
    broken.unlink()  # the app is fixed: the next try boots and takes over
    wait_until(lambda: served_by(d) != first, 15, what="a replacement serving")
    wait_until(lambda: first not in d.workers(), 10, what="the old worker gone")
    assert d.proc.poll() is None


def test_a_memory_replacement_that_fails_to_boot_is_tried_again_until_one_boots(daemons, tmp_path):
    d, broken = start(daemons, tmp_path, "--max-worker-memory", "120")
    (first,) = d.workers()
    broken.touch()
    assert served_by(d, "/grow/150") == first
    d.wait_log(r"the app failed to load", count=2)
    assert served_by(d) == first
    assert re.search(rf"started to replace pid {first} \(uses \d+ MiB, over max_worker_memory \(120 MiB\)\), "
                     rf"failed to boot", d.log()), d.log()
    broken.unlink()
    wait_until(lambda: served_by(d) != first, 15, what="a replacement serving")
    wait_until(lambda: first not in d.workers(), 10, what="the old worker gone")
    assert d.proc.poll() is None
