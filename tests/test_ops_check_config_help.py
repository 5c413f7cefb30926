"""``prefork check-config --help`` printed the daemon's help (``usage: prefork [...] [APP]``,
"A preforking HTTP/1.1 server"): it describes the subcommand, what it checks, its exit
statuses and that it takes the daemon's options and APP, wherever the word stands; the
daemon's own help is unchanged."""

import os
import subprocess
import sys

import pytest

from daemon import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _help(*args):
    run = subprocess.run([sys.executable, "-m", "prefork", *args], cwd=ROOT, env=python_env(),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout, " ".join(run.stdout.split())


@pytest.mark.parametrize("args", [("check-config", "--help"), ("-w", "2", "check-config", "-h"),
                                  ("--check-config", "--help")])
def test_check_config_help_describes_the_subcommand(args):
    text, flat = _help(*args)
    assert text.startswith("usage: prefork check-config "), text[:200]
    assert "A preforking HTTP/1.1 server" not in text
    assert "Validate the configuration and print the effective settings" in flat
    assert "same options and APP as the daemon" in flat
    assert "Exit status: 0 when the configuration is valid" in flat
    assert "2 when it is not" in flat and "3 when the app cannot be loaded" in flat
    assert "--workers N" in text and "--access-log FILE" in text  # the daemon's options, all of them


def test_the_daemons_help_stays_the_daemons():
    text, flat = _help("--help")
    assert text.startswith("usage: prefork [-h]") and "A preforking HTTP/1.1 server" in text
    assert "Exit status: 0 when the configuration is valid" not in flat
