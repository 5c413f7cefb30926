"""The ASGI lifespan against the real daemon: sys.exit() at startup is a failed boot said
in one line (not a lifespan taken for unsupported), at shutdown a logged failure that
leaves the worker's own exit alone; a shutdown answer to the startup is the app raising
in its startup, never a boot left waiting."""

import signal

APPS = "test_asgi_apps_edges"


def test_sys_exit_in_the_lifespan_startup_is_a_boot_failure_said_in_one_line(daemons):
    d = daemons("--interface", "asgi", app=f"{APPS}:exit_at_startup", workers=1)
    assert d.wait_exit(30) == 3
    log = d.log()
    assert "Application startup failed: lifespan startup raised SystemExit: 4" in log, log
    assert "appears unsupported" not in log, log  # the app spoke lifespan: it asked not to start
    assert "the app failed to load" not in log, log
    assert log.count("booting worker 0") == 1  # no respawn loop


def test_an_exception_without_a_message_at_startup_is_named_without_an_empty_message(daemons):
    d = daemons("--interface", "asgi", "--lifespan", "on", app=f"{APPS}:bare_raise_at_startup", workers=1)
    assert d.wait_exit(30) == 3
    log = d.log()
    # the master's line and the worker's end with the exception's name, not ": " and nothing
    assert log.count("Application startup failed: lifespan startup raised RuntimeError\n") == 2, log
    assert "raised RuntimeError:" not in log, log


def test_sys_exit_in_the_lifespan_shutdown_is_logged_and_the_worker_exits_cleanly(daemons):
    d = daemons("--interface", "asgi", app=f"{APPS}:exit_at_shutdown", workers=1)
    d.wait_ready()
    assert d.request("/").endswith(b"hello")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    log = d.log()
    assert "Exception in 'lifespan' protocol" in log and "SystemExit: 4" in log, log
    assert log.count("SystemExit: 4") == 1, log  # logged once, not escaping the worker's loop as well
    assert "stopped: exit status 0" in log, log


def test_a_lifespan_shutdown_that_hangs_is_given_up_before_the_master_kills_the_worker(daemons):
    d = daemons("--interface", "asgi", "--graceful-timeout", "2", app=f"{APPS}:hanging_shutdown", workers=1)
    d.wait_ready()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
    log = d.log()
    assert "the app's lifespan shutdown did not finish within" in log, log
    assert "the hanging shutdown's finally ran" in log, log  # cancelled, its cleanup run
    assert "stopped: exit status 0" in log and "killing it" not in log, log  # it exits on its own
    assert "Exception in 'lifespan' protocol" not in log, log  # the cancelling is not a failure


def test_a_shutdown_answer_to_the_startup_is_an_unsupported_lifespan_not_a_hung_boot(daemons):
    # (uvicorn's rule: the app's send raises, the lifespan is taken for unsupported in auto)
    d = daemons("--interface", "asgi", "--startup-timeout", "20", app=f"{APPS}:shutdown_answer_at_startup",
                workers=1)
    d.wait_ready(timeout=10)
    assert d.request("/").endswith(b"hello")
    assert "appears unsupported" in d.log(), d.log()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0


def test_a_shutdown_answer_to_the_startup_with_lifespan_on_is_a_boot_failure(daemons):
    d = daemons("--interface", "asgi", "--lifespan", "on", "--startup-timeout", "20",
                app=f"{APPS}:shutdown_answer_at_startup", workers=1)
    assert d.wait_exit(10) == 3
    assert "sent before the startup was answered" in d.log(), d.log()
