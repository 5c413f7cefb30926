"""``prefork --help`` said ``--access-log`` and ``--metrics-bind`` are turned off by "empty
(or false)", but a flag or environment value of ``false`` is refused (exit 2: a file named
``false`` is a log destination one may mean, and ``false`` on the command line is no
gunicorn or uvicorn spelling); only the configuration file's ``false`` turns them off. The
help says which surface takes what, and each surface does what it says."""

import os
import re
import subprocess
import sys

import pytest

from daemon import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, **env):
    return subprocess.run([sys.executable, "-m", "prefork", *args], cwd=ROOT, env=python_env(**env),
                          capture_output=True, text=True, timeout=60)


def _help_of(flag):
    text = _run("--help").stdout
    block = text.split(f"  {flag} ", 1)[1].split("\n  --", 1)[0]
    return " ".join(block.split())


@pytest.mark.parametrize("name, flag", [("access_log", "--access-log"), ("metrics_bind", "--metrics-bind")])
def test_the_help_says_what_each_surface_takes_to_turn_it_off(name, flag, tmp_path):
    said = _help_of(flag)
    assert "(or false)" not in said, said
    assert "empty disables" in said and "also false in the configuration file" in said, said
    assert re.search(r"a flag or environment value of false is refused", said), said
    env_name = "PREFORK_" + name.upper()
    for args, env in (((flag, "false"), {}), ((), {env_name: "false"})):
        run = _run("check-config", *args, **env)
        assert run.returncode == 2 and "'false' is no" in run.stderr, (args, env, run.stderr)
    config = tmp_path / "prefork.toml"
    config.write_text(f"{name} = false\n")
    for args, env, source in (((flag, ""), {}, f"argv:{flag}"), ((), {env_name: ""}, f"env:{env_name}"),
                              (("-c", str(config)), {}, f"{config}:{name}")):
        run = _run("check-config", *args, **env)
        assert run.returncode == 0, (args, env, run.stderr)
        assert f'{name} = ""  # {source}' in run.stdout.splitlines(), run.stdout
