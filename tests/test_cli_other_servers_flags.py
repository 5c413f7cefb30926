"""Every flag and setting of gunicorn and uvicorn (as the installed versions declare
them) is either one of prefork's or refused with what to use instead: a user coming
from either server never meets a bare "unrecognized arguments"."""

import os
import subprocess
import sys

import pytest

from prefork import migration, settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OWN = {setting.name for setting in settings.SETTINGS} | {"config", "check_config", "print_config", "version",
                                                         "help"}


def gunicorn_names():
    config = pytest.importorskip("gunicorn.config")
    for setting in config.KNOWN_SETTINGS:
        if "Hooks" in setting.section or setting.name == "default_proc_name":
            continue  # Python callables (no TOML value can be one), and an internal setting
        yield setting.name
        for flag in setting.cli or ():
            yield flag


def uvicorn_names():
    pytest.importorskip("uvicorn")
    command = sys.modules["uvicorn.main"].main
    for param in command.params:
        yield param.name
        yield from param.opts
        yield from param.secondary_opts


def own(name):
    key = migration.key(name)
    return key in OWN or key.removeprefix("no_") in OWN or name in ("-c", "-w", "-b", "--pid", "--keep-alive",
                                                                     "--reload-dir")


@pytest.mark.parametrize("names", [gunicorn_names, uvicorn_names])
def test_every_name_of_theirs_is_prefork_s_or_hinted(names):
    missing = sorted({name for name in names() if not own(name) and migration.hint(name, flag_form=True) is None})
    assert not missing, missing


@pytest.mark.parametrize("flag, said", [
    ("--statsd-prefix", "--statsd-prefix is gunicorn's: metrics are Prometheus's"),
    ("--http2", "--http2 is uvicorn's: prefork speaks HTTP/1.1 only"),
    ("-R", "-R is gunicorn's: a worker writes the app's output where the daemon's own goes"),
])
def test_the_command_line_refuses_them_with_the_hint(flag, said):
    proc = subprocess.run([sys.executable, "-m", "prefork", flag, "main:app"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 2
    assert f"  {said}" in proc.stderr, proc.stderr


def test_a_config_file_key_of_theirs_is_refused_with_the_hint(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('dirty_workers = 2\n')
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "-c", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{config}:dirty_workers: unknown setting (dirty_workers is gunicorn's: prefork "
                                  "has no pool of dirty workers"), proc.stderr
