"""Claims of the docs tried as an operator tries them: the shipped configuration file,
copied verbatim, leaves the variables other servers read (PORT, FORWARDED_ALLOW_IPS,
SCRIPT_NAME) in force as the README says; the systemd service does not pull in its
socket unit, so without it the configuration's bind is used."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check_config(env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("PREFORK_")}
    full.update(env)
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config",
                          os.path.join(ROOT, "config", "prefork.toml")], capture_output=True, text=True,
                         env=full, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_shipped_config_leaves_the_platform_variables_in_force():
    out = _check_config({"PORT": "9999", "FORWARDED_ALLOW_IPS": "10.0.0.1", "SCRIPT_NAME": "/app"})
    assert 'bind = ["0.0.0.0:9999"]' in out, out
    assert "10.0.0.1" in out.split("forwarded_allow_ips", 1)[1].splitlines()[0], out
    assert 'root_path = "/app"' in out, out


def test_the_service_does_not_pull_in_its_socket_unit():
    with open(os.path.join(ROOT, "systemd", "prefork.service")) as fh:
        unit = fh.read()
    directives = [line.strip() for line in unit.splitlines() if not line.lstrip().startswith("#")]
    assert not any(line.startswith(("Wants=", "Requires=", "BindsTo=")) and "prefork.socket" in line
                   for line in directives), unit


def test_a_python_config_that_happens_to_be_toml_is_warned_about(tmp_path):
    config = tmp_path / "gunicorn_conf.py"
    config.write_text("workers = 4\ntimeout = 60\n")
    full = {k: v for k, v in os.environ.items() if not k.startswith("PREFORK_")}
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--config", str(config)],
                         capture_output=True, text=True, env=full, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"{config}: a Python file, read as TOML: prefork runs no configuration code" in out.stderr, out.stderr


def test_the_flags_whose_meaning_differs_say_so():
    out = subprocess.run([sys.executable, "-m", "prefork", "--access-logfile", "-", "--timeout-notify", "30", "app"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2
    assert "write --access-log /dev/stdout here (gunicorn's - is stdout; - is stderr here)" in out.stderr, out.stderr
    assert "--timeout-notify 30 is uvicorn's: write --timeout 30 here" in out.stderr, out.stderr
