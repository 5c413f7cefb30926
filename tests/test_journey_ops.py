"""An operator replacing gunicorn or uvicorn with prefork: what the daemon's own output
looks like to a log collector, and how a worker's memory is bounded.

Each test runs the real daemon; every process it starts is killed by PID at the end."""

import json
import os
import re
import signal
import socket
import sys

import pytest

from daemon import alive, wait_until
from harness import read_until_close

APP = "apps.journey_ops:setup"
UNBUFFERED_OFF = {"PYTHONUNBUFFERED": ""}  # as a container runs it: no -u, no variable


def test_an_apps_printed_lines_reach_the_log_collector_while_the_worker_runs(daemons):
    d = daemons(app=APP, workers=1, env=UNBUFFERED_OFF)
    d.wait_ready()
    assert b"200 OK" in d.request("/print/first-line-from-the-app")
    wait_until(lambda: "first-line-from-the-app\n" in d.log(), 10, what="the printed line in the log")
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_what_an_app_printed_without_a_newline_is_written_when_its_worker_exits(daemons):
    d = daemons(app=APP, workers=1, env=UNBUFFERED_OFF)
    d.wait_ready()
    assert b"200 OK" in d.request("/partial/unfinished-line")
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert "unfinished-line" in d.log()


def status(d):
    sock = socket.create_connection(("127.0.0.1", d.metrics_port()), timeout=5)
    try:
        sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return json.loads(read_until_close(sock).partition(b"\r\n\r\n")[2])
    finally:
        sock.close()


def memory_restarts(d):
    return d.scrape()[("prefork_worker_restarts_total", (("reason", "memory"),))]


def test_a_worker_past_max_worker_memory_is_replaced_and_the_log_says_why(daemons):
    d = daemons("--max-worker-memory", "150", app=APP, workers=1)
    d.wait_ready()
    (first,) = d.wait_workers(1)
    assert f"pid {first}".encode() in d.request("/grow/200")
    d.wait_log(rf"worker 0 \(pid {first}\) uses \d+ MiB, over max_worker_memory \(150 MiB\); replacing it")
    wait_until(lambda: not alive(first), 20, what="the grown worker's exit")
    (second,) = d.wait_workers(1, exclude=(first,))
    assert f"pid {second}".encode() in d.request("/")
    assert memory_restarts(d) == 1
    assert len(re.findall("over max_worker_memory", d.log())) == 1
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_an_app_that_outgrows_the_limit_soon_after_it_starts_is_replaced_once_not_in_a_loop(daemons):
    """Each fresh worker grows past the limit half a second after it is ready: the first is
    replaced, its replacement does the same and is then exempt (said once), not replaced
    every second for ever."""
    d = daemons("--max-worker-memory", "100", app="apps.journey_ops:growing_setup", workers=1,
                env={"GROW_MIB": "150"})
    d.wait_ready()
    (first,) = d.wait_workers(1)
    d.wait_log(rf"worker 0 \(pid {first}\) uses \d+ MiB, over max_worker_memory \(100 MiB\); replacing it", 20)
    (second,) = d.wait_workers(1, exclude=(first,), timeout=20)
    d.wait_log(rf"worker 0 \(pid {second}\) uses \d+ MiB \d+ s after it started, over max_worker_memory "
               r"\(100 MiB\), as the worker it replaced did: the app needs more than the limit; it is not "
               r"replaced for its memory", 20)
    wait_until(lambda: status(d)["workers"][0]["age"] > 3, 20, interval=0.2, what="three memory checks")
    assert d.workers() == [second]
    assert memory_restarts(d) == 1
    assert len(re.findall("replacing it", d.log())) == 1
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_workers_past_the_limit_together_are_replaced_one_at_a_time(daemons):
    """Both workers outgrow the limit at about the same moment: the second is replaced only
    once the first has stopped, so the memory never holds two replacements at once."""
    d = daemons("--max-worker-memory", "100", app="apps.journey_ops:growing_setup", workers=2,
                env={"GROW_MIB": "150"})
    d.wait_ready()
    pids = d.wait_workers(2)
    pattern = r"\(pid (\d+)\) uses \d+ MiB, over max_worker_memory \(100 MiB\); replacing it"
    wait_until(lambda: len(re.findall(pattern, d.log())) == 2, 30, what="both workers replaced")
    log = d.log()
    replaced = [int(pid) for pid in re.findall(pattern, log)]
    assert sorted(replaced) == sorted(pids), log
    assert log.index(f"(pid {replaced[0]}) stopped") < log.index(f"(pid {replaced[1]}) uses"), log
    # their replacements outgrow it too, and are exempt: no third replacement
    wait_until(lambda: len(re.findall("as the worker it replaced did", d.log())) == 2, 30, what="two exemptions")
    assert memory_restarts(d) == 2
    assert len(re.findall("replacing it", d.log())) == 2
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_a_limit_below_what_a_fresh_worker_needs_is_said_once_and_replaces_nothing(daemons):
    d = daemons("--max-worker-memory", "1", app=APP, workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    d.wait_log(rf"worker 0 \(pid {worker}\) uses \d+ MiB as it starts, over max_worker_memory \(1 MiB\): "
               r"the app needs more than the limit; it is not replaced for its memory")
    # the master checks every second: let three checks pass, on the daemon's own clock
    wait_until(lambda: status(d)["workers"][0]["age"] > 3, 20, interval=0.2, what="three memory checks")
    assert d.workers() == [worker]
    assert memory_restarts(d) == 0
    assert "replacing it" not in d.log()


def rotation_daemon(daemons, tmp_path):
    error, access = tmp_path / "error.log", tmp_path / "access.log"
    d = daemons("--error-log", str(error), "--access-log", str(access), "--access-log-flush", "0",
                "--access-log-format", "{p} {r}", app=APP, workers=2)
    wait_until(lambda: error.exists() and "workers ready: 2" in error.read_text(), 20, what="ready")
    return d, error, access


def until_written(d, error, access, text):
    """Ask until every worker has written ``text`` into the current error log and its
    request line into the current access log (each worker reopens on its own USR1)."""
    workers = d.wait_workers(2)

    def written():
        d.request(f"/stderr/{text}")
        errors, lines = error.read_text() if error.exists() else "", access.read_text() if access.exists() else ""
        return all(f"{text} {pid}\n" in errors and f"{pid} GET /stderr/{text} " in lines for pid in workers)
    wait_until(written, 20, interval=0.05, what=f"{text} from every worker in the new files")


def test_logrotate_create_mode_renames_and_usr1_moves_every_writer_to_new_files(daemons, tmp_path):
    d, error, access = rotation_daemon(daemons, tmp_path)
    until_written(d, error, access, "before-rotation")
    error.rename(tmp_path / "error.log.1")
    access.rename(tmp_path / "access.log.1")
    d.signal(signal.SIGUSR1)
    wait_until(lambda: error.exists() and "log files reopened" in error.read_text(), 20, what="the master's reopen")
    until_written(d, error, access, "after-rotation")
    assert "before-rotation" not in error.read_text() + access.read_text()
    assert "before-rotation" in (tmp_path / "error.log.1").read_text()
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert "master exiting with status 0" in error.read_text()


def test_logrotate_copytruncate_mode_keeps_writing_at_the_start_of_the_file(daemons, tmp_path):
    d, error, access = rotation_daemon(daemons, tmp_path)
    until_written(d, error, access, "before-truncation")
    for path in (error, access):  # copytruncate: copy, then truncate in place; no signal
        (tmp_path / (path.name + ".1")).write_bytes(path.read_bytes())
        with open(path, "r+b") as fh:
            fh.truncate(0)
    until_written(d, error, access, "after-truncation")
    for path in (error, access):
        data = path.read_bytes()
        assert b"\0" not in data  # appended at the new end, not at the old offset
        assert b"before-truncation" not in data
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0


@pytest.mark.skipif(os.getuid() != 0, reason="workers under another user need root")
def test_logrotate_with_workers_running_as_another_user(daemons, tmp_path):
    """The master keeps root; the workers run as nobody and cannot create files in the
    log directory: on USR1 they still move to the new files."""
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)  # root's: nobody may not create files here
    error, access = logs / "error.log", logs / "access.log"
    d = daemons("--user", "nobody", "--error-log", str(error), "--access-log", str(access),
                "--access-log-flush", "0", "--access-log-format", "{p} {r}", app=APP, workers=2)
    wait_until(lambda: error.exists() and "workers ready: 2" in error.read_text(), 20, what="ready")
    until_written(d, error, access, "before-rotation")
    error.rename(logs / "error.log.1")
    access.rename(logs / "access.log.1")
    d.signal(signal.SIGUSR1)
    until_written(d, error, access, "after-rotation")
    rotated = (logs / "error.log.1").read_text()
    assert "Traceback" not in rotated + error.read_text() and "cannot reopen" not in rotated + error.read_text()
    assert (error.stat().st_uid, access.stat().st_uid) == (0, 0)  # the files stay root's
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_crash_loop_backs_off_visibly_and_the_master_does_not_spin(daemons):
    d = daemons(app="apps.journey_ops:crash_after_ready", workers=1)
    d.wait_log(r"quick death #3\)", timeout=30)
    start = cpu_seconds(d.pid)
    d.wait_log(r"replacing it in 1\.6 s \(quick death #6\)", timeout=60)
    assert cpu_seconds(d.pid) - start < 1.0  # three backoffs of 0.4 + 0.8 s (+ boots) took little CPU
    assert re.search(r"worker 0 \(pid \d+\) died \(exit status 1\) after \d+\.\d s; replacing it in 0\.2 s "
                     r"\(quick death #3\)", d.log())
    assert d.proc.poll() is None  # a crash loop after boot is not a boot failure


@pytest.mark.skipif(os.getuid() != 0, reason="connecting as another user needs root")
def test_a_proxy_running_as_another_user_can_connect_to_the_unix_socket(daemons):
    """nginx (www-data) in front of prefork (root or its own user) on a UNIX socket, as
    gunicorn users run it: the socket must accept another user's connection."""
    import pwd
    import stat
    import subprocess
    import tempfile
    from debian import ensure
    curl, why = ensure("curl", "curl")
    if curl is None:
        pytest.skip(why)
    directory = tempfile.mkdtemp(prefix="prefork-sock-")
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "app.sock")
    d = daemons("--bind", f"unix:{path}", app=APP, workers=1, bind_socket=False)
    d.wait_ready()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666
    nobody = pwd.getpwnam("nobody")

    def as_nobody():
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    probe = subprocess.run([curl, "-sS", "-i", "--unix-socket", path, "http://x/"], capture_output=True, text=True,
                           preexec_fn=as_nobody, timeout=30)
    assert probe.returncode == 0, probe.stderr
    assert "HTTP/1.1 200 OK" in probe.stdout
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert not os.path.exists(path)
    os.rmdir(directory)


def test_the_unix_socket_mode_is_a_setting(daemons, tmp_path):
    import stat
    path = tmp_path / "app.sock"
    d = daemons("--bind", f"unix:{path}", "--unix-socket-mode", "0o660", app=APP, workers=1, bind_socket=False)
    d.wait_ready()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660


def nofile(pid):
    with open(f"/proc/{pid}/limits") as fh:
        line = next(line for line in fh if line.startswith("Max open files"))
    return int(line.split()[3])


def limited_daemon(tmp_path, soft, hard, workers):
    """The daemon started under ``prlimit --nofile=SOFT:HARD`` (prlimit execs it: same PID)."""
    import subprocess
    from daemon import python_env
    log = open(tmp_path / "out.log", "wb")
    proc = subprocess.Popen(["prlimit", f"--nofile={soft}:{hard}", sys.executable, "-m", "prefork", APP,
                             "--workers", str(workers), "--bind", "127.0.0.1:0", "--metrics-bind", "",
                             "--access-log", ""],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=python_env(),
                            cwd=tmp_path)
    log.close()
    return proc, lambda: (tmp_path / "out.log").read_text()


def test_more_workers_than_the_descriptor_limit_allows_is_a_config_error(tmp_path):
    from daemon import children
    proc, log = limited_daemon(tmp_path, 64, 64, 3)
    try:
        assert proc.wait(30) == 2
    finally:
        left = children(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid in left:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    expected = [
        "argv:--workers: 3 workers need 102 open files in the master (a channel each, twice during a reload, and "
        "the operations endpoints); this process may open 64 (ulimit -Hn): raise the limit (LimitNOFILE= under "
        "systemd, --ulimit nofile= under Docker) or lower workers"]
    assert log().splitlines() == expected
    # check-config says it too (it passed, where the start refused)
    import subprocess
    from daemon import python_env
    check = subprocess.run(["prlimit", "--nofile=64:64", sys.executable, "-m", "prefork", "check-config", APP,
                            "--workers", "3"], capture_output=True, text=True, env=python_env(), cwd=tmp_path,
                           timeout=30)
    assert check.returncode == 2 and check.stderr.splitlines() == expected, check


def test_a_low_soft_descriptor_limit_is_raised_for_the_master_and_kept_for_the_workers(tmp_path):
    from daemon import children
    proc, log = limited_daemon(tmp_path, 24, 4096, 8)
    try:
        wait_until(lambda: "workers ready: 8" in log(), 60, what=f"workers ready: 8\n{log()}")
        assert "Too many open files" not in log()
        workers = children(proc.pid)
        assert len(workers) == 8
        assert nofile(proc.pid) == 96 + 2 * 8
        assert {nofile(pid) for pid in workers} == {24}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        left = children(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid in left:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_ttin_past_the_descriptor_limit_is_refused_and_says_why(tmp_path):
    from daemon import children
    proc, log = limited_daemon(tmp_path, 104, 104, 4)  # 4 workers need 104; a fifth would need 106
    try:
        wait_until(lambda: "workers ready: 4" in log(), 60, what=f"workers ready: 4\n{log()}")
        proc.send_signal(signal.SIGTTIN)
        wait_until(lambda: "TTIN ignored: 5 workers need 106 open files in the master" in log(), 30,
                   what=f"the refusal:\n{log()}")
        assert len(children(proc.pid)) == 4
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        left = children(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid in left:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
