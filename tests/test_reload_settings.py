"""What a HUP does with the settings that govern the workers of each generation (real
daemons, real signals): the old generation drains by its own ``graceful_timeout`` and
the new one boots by its own ``timeout``; a derived worker count follows the running
``reload``; ``proxy_protocol_bind`` is checked against the ``bind`` in use; the master's
title follows ``proc_name``; a new configuration's warnings are logged."""

import signal
import threading
import textwrap

from daemon import cmdline, wait_until

BOOTING = """
    import time

    def setup(server):
        time.sleep(float(open({path!r}).read()))
        server.on("request", lambda req, res: res.end("ok"))
"""


def hup(d, config, text):
    config.write_text(text)
    d.signal(signal.SIGHUP)


def test_a_shorter_graceful_timeout_leaves_the_old_generation_its_own(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("graceful_timeout = 10.0\n")
    d = daemons("--config", str(config), workers=1, graceful_timeout=None)
    d.wait_ready()
    slow = {}
    thread = threading.Thread(target=lambda: slow.update(answer=d.request("/sleep/3", timeout=30)))
    thread.start()
    wait_until(lambda: d.scrape().get(("prefork_connections_active", ())) == 1, 10, what="the slow request")
    hup(d, config, "graceful_timeout = 1.0\n")
    d.wait_log(r"generation 2 ready", 20)
    thread.join(30)
    assert slow["answer"].startswith(b"HTTP/1.1 200 OK"), slow  # drained by its own 10 s, not cut at 1 s
    assert "killing it" not in d.log()


def test_a_longer_timeout_lets_the_new_generation_boot_by_it(daemons, tmp_path):
    (tmp_path / "booting.py").write_text(textwrap.dedent(BOOTING.format(path=str(tmp_path / "boot"))))
    (tmp_path / "boot").write_text("0")
    config = tmp_path / "prefork.toml"
    config.write_text("timeout = 2.0\n")
    d = daemons("--config", str(config), "--app-dir", str(tmp_path), app="booting:setup", workers=1)
    d.wait_ready()
    (tmp_path / "boot").write_text("3")  # the next generation's import takes 3 s
    hup(d, config, "timeout = 8.0\n")
    d.wait_log(r"generation 2 ready", 20)
    assert "longer than timeout" not in d.log() and "reload refused" not in d.log(), d.log()


def test_a_derived_worker_count_follows_the_reload_setting_kept(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("")
    d = daemons("--config", str(config), workers=None)  # one per CPU: none is set
    d.wait_ready()
    before = len(d.wait_workers(len(d.serving_workers()) or 1))
    hup(d, config, "reload = true\nmax_requests_jitter = 5\n")  # (reload needs a restart: kept off)
    d.wait_log(r"generation 2 ready", 20)
    d.wait_log(r"reload changed but needs a restart")
    assert d.wait_log(r"reload: .*max_requests_jitter.*has no effect without max_requests")  # its warning
    wait_until(lambda: len(d.workers()) == before, 20, what=f"{before} workers")


def test_proxy_protocol_bind_is_checked_against_the_bind_in_use(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('bind = ["127.0.0.1:0"]\n')
    d = daemons("--config", str(config), workers=1, bind_socket=False)
    d.wait_ready()
    # a new bind is not applied (it needs a restart): PROXY on it would change nothing
    hup(d, config, 'bind = ["127.0.0.1:0", "127.0.0.1:1"]\nproxy_protocol_bind = ["127.0.0.1:1"]\n')
    d.wait_log(r"reload refused")
    assert "127.0.0.1:1 is not one of the bind addresses in use" in d.log(), d.log()


def test_the_masters_title_follows_proc_name_after_a_delayed_switch_over(daemons, tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('proc_name = "one"\nreadiness_withdraw = 0.5\n')
    d = daemons("--config", str(config), workers=1)
    d.wait_ready()
    assert "[one]" in cmdline(d.pid)
    hup(d, config, 'proc_name = "two"\nreadiness_withdraw = 0.5\n')
    d.wait_log(r"generation 2 ready", 20)
    wait_until(lambda: "[two]" in (cmdline(d.pid) or ""), 5, what="the master's new title")
