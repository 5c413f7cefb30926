"""uvicorn's ``--factory main:create_app`` is refused with the app written as prefork
takes a factory, ``main:create_app()`` (the app named, wherever ``--factory`` stands and
however its switch is written), and the app so written is served."""

import subprocess
import sys

import pytest

from daemon import Daemon, python_env

APP = "apps.uvicorn_factory:create_app"


@pytest.mark.parametrize("args", [
    ["--factory", APP],
    [APP, "--factory"],
    ["--factory=true", "--workers", "1", APP],
], ids=["before-the-app", "after-the-app", "with-a-value"])
def test_the_factory_flag_is_answered_with_the_app_written_as_a_call(args, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path, env=python_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert (f"  --factory is uvicorn's: write the app as {APP}() here (the worker calls the factory and serves "
            f"what it returns)") in proc.stderr.splitlines(), proc.stderr


def test_the_app_the_hint_writes_is_served():
    daemon = Daemon(app=f"{APP}()", workers=1)
    try:
        daemon.wait_ready(1, timeout=30)
        assert daemon.request().endswith(b"made by the factory")
    finally:
        daemon.cleanup()
