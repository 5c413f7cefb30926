"""systemd notifications before the master has booted, read from a real notify socket:
``READY=1`` goes out only once every worker of the first generation serves, so a USR2
whose exec fails, or a HUP, while they still boot sends neither ``RELOADING=1`` nor an
early ``READY=1``; a refused reload's ``READY=1`` says the ``STATUS`` as every other."""

import os
import signal
import sys

from daemon import wait_until
from test_operations import NotifyListener


def venv_link(tmp_path):
    """A symlink to this interpreter in a copy of its venv's layout (pyvenv.cfg, lib)."""
    venv = os.path.dirname(os.path.dirname(sys.executable))
    (tmp_path / "bin").mkdir()
    if os.path.exists(os.path.join(venv, "pyvenv.cfg")):
        (tmp_path / "pyvenv.cfg").write_text(open(os.path.join(venv, "pyvenv.cfg")).read())
        os.symlink(os.path.join(venv, "lib"), tmp_path / "lib")
    link = tmp_path / "bin" / "python"
    os.symlink(os.path.realpath(sys.executable), link)
    return str(link)


def test_a_usr2_whose_exec_fails_while_booting_sends_no_ready_before_the_workers_serve(daemons, tmp_path):
    listener = NotifyListener()
    gate = tmp_path / "gate"
    link = venv_link(tmp_path)
    try:
        d = daemons(app="apps.gone_interpreter:setup", workers=1,
                    prefix=("sh", "-c", f'shift; exec "{link}" "$@"', "sh"),
                    env={"NOTIFY_SOCKET": listener.address, "UNLINK_ON_CHECK": link, "BOOT_GATE": str(gate)})
        wait_until(lambda: d.workers(), 20, what=d.log)
        d.signal(signal.SIGUSR2)
        wait_until(lambda: "re-exec failed" in d.log(), 30, what=d.log)
        assert not [m for _, m in listener.messages if set(m) & {"READY", "RELOADING"}], listener.messages
        gate.write_text("")
        (_, ready), = listener.wait("READY", "1", timeout=20)
        assert ready["MAINPID"] == str(d.pid) and ready["STATUS"].startswith("1 worker,"), ready
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
        said = [next(iter(set(m) & {"READY", "RELOADING"})) for _, m in listener.messages
                if set(m) & {"READY", "RELOADING"}]
        assert said == ["READY"], listener.messages
    finally:
        listener.close()


def test_a_hup_while_the_first_workers_boot_sends_one_ready_once_they_serve(daemons, tmp_path):
    listener = NotifyListener()
    gate = tmp_path / "gate"
    try:
        d = daemons(app="apps.gone_interpreter:setup", workers=1,
                    env={"NOTIFY_SOCKET": listener.address, "BOOT_GATE": str(gate)})
        wait_until(lambda: d.workers(), 20, what=d.log)
        d.signal(signal.SIGHUP)
        wait_until(lambda: len(d.workers()) == 2, 20, what=d.log)
        assert not [m for _, m in listener.messages if set(m) & {"READY", "RELOADING"}], listener.messages
        gate.write_text("")
        wait_until(lambda: "reload: generation 2 ready" in d.log(), 20, what=d.log)
        ready = listener.wait("READY", "1", timeout=20)
        assert ready[0][1]["MAINPID"] == str(d.pid), ready
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
        assert not listener.keys("RELOADING"), listener.messages
    finally:
        listener.close()


def test_a_refused_reload_ends_with_ready_and_the_status(daemons, tmp_path):
    listener = NotifyListener()
    config = tmp_path / "c.toml"
    config.write_text("workers = 2\n")
    try:
        d = daemons("--config", str(config), workers=2, env={"NOTIFY_SOCKET": listener.address})
        listener.wait("READY", "1")
        config.write_text("workers = 2\nthreads = 5000\n")
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload refused")
        listener.wait("RELOADING", "1")
        (_, first), (_, after) = listener.wait("READY", "1", count=2)
        assert after["STATUS"].startswith("2 workers, 0 active connections"), after
    finally:
        listener.close()
