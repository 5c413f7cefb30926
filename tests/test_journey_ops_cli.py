"""A gunicorn or uvicorn user's first commands and config file: what they know is
either accepted or refused with the name prefork uses, in a few lines, exit status 2."""

import subprocess
import sys

from daemon import python_env
from prefork import migration, settings


def prefork(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=python_env(**(env or {})), stdin=subprocess.DEVNULL)


def test_gunicorn_and_uvicorn_flags_are_refused_with_the_flag_to_use():
    proc = prefork("-k", "uvicorn.workers.UvicornWorker", "--access-logfile", "-", "--uds", "/run/app.sock",
                   "--error-logfile", "/var/log/app.log", "main:app")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("prefork: error: unrecognized arguments: -k ")
    assert lines[1].startswith("  -k is gunicorn's: prefork has no worker classes")
    assert lines[2:] == ["  --access-logfile - is gunicorn's: write --access-log /dev/stdout here (gunicorn's - is "
                         "stdout; - is stderr here)",
                         "  --uds /run/app.sock is uvicorn's: write --bind unix:/run/app.sock here",
                         "  --error-logfile /var/log/app.log is gunicorn's: write --error-log /var/log/app.log here",
                         "Run 'prefork --help' for every option."]


def test_an_unknown_flag_is_two_lines_not_the_whole_usage():
    proc = prefork("--colour", "blue")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["prefork: error: unrecognized arguments: --colour",
                                        "Run 'prefork --help' for every option."]
    assert proc.stdout == ""


def test_check_config_as_gunicorn_spells_it():
    proc = prefork("--check-config", "--workers", "3")
    assert proc.returncode == 0, proc.stderr
    assert "workers = 3  # argv:--workers" in proc.stdout.splitlines()
    bad = prefork("--print-config", "--workers", "0")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == ["argv:--workers: must be at least 1, got 0"]


def test_a_setting_that_is_on_by_default_can_be_turned_off_on_the_command_line():
    proc = prefork("check-config", "--no-ws-per-message-deflate", "--no-proxy-protocol")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "ws_per_message_deflate = false  # argv:--ws-per-message-deflate" in lines
    assert "proxy_protocol = false  # argv:--proxy-protocol" in lines


def test_help_names_each_flags_value_and_default():
    out = " ".join(prefork("--help").stdout.split())
    assert "--timeout SECONDS Seconds a worker may go without a heartbeat" in out
    assert "and replaced. (default: 30.0)" in out
    assert "--reload-include GLOB" in out and "--pidfile FILE" in out and "-w N, --workers N" in out
    assert "--reload, --no-reload" in out
    assert "(default: 127.0.0.1:8000)" in out


def test_gunicorns_config_keys_name_the_setting_to_use(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text('accesslog = "-"\nkeepalive = 2\nworker_class = "sync"\nwrokers = 2\n')
    proc = prefork("check-config", "--config", str(config))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0] == (f"{config}:accesslog: unknown setting (accesslog is gunicorn's: write access_log = "
                        "\"/dev/stdout\" here (gunicorn's - is stdout; - is stderr here))")
    assert lines[1] == (f"{config}:keepalive: unknown setting (keepalive is gunicorn's: write keep_alive_timeout = 2.0 "
                        "here)")
    assert lines[2].startswith(f"{config}:worker_class: unknown setting (worker_class is gunicorn's: prefork has "
                               "no worker classes")
    assert lines[3] == f"{config}:wrokers: unknown setting (did you mean workers?)"


def test_a_gunicorn_python_config_is_named_as_such(tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text('import multiprocessing\nworkers = multiprocessing.cpu_count() * 2 + 1\n')
    proc = prefork("check-config", "-c", str(config))
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{config}: not valid TOML: ")
    assert line.endswith("(this is a Python file: prefork reads TOML, see docs/gunicorn.md)")


def test_a_gunicorn_access_log_format_is_refused_with_the_same_format_in_prefork_fields():
    proc = prefork("check-config", "--access-log-format", '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s')
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "argv:--access-log-format: gunicorn's %(x)s fields are not read here, prefork's are written {x}: "
        "'{h} - - [{t}] \"{r}\" {s} {b}'"]
    proc = prefork("check-config", "--access-log-format", "%(h)s %({x-request-id}i)s")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "argv:--access-log-format: gunicorn's %(x)s fields are not read here, prefork's are written {x}: "
        "'{h} {i[x-request-id]}'"]
    proc = prefork("check-config", "--access-log-format", "%(h)s %({HOME}e)s")  # no field here
    assert proc.returncode == 2
    assert proc.stderr.startswith("argv:--access-log-format: gunicorn's %(x)s fields are not read here, prefork's "
                                  "are written {x} ({D}, {L}")
    # the suggested formats are ones prefork takes
    assert settings.load(env={}, argv_values={"access_log_format": '{h} - - [{t}] "{r}" {s} {b}'})
    assert settings.load(env={}, argv_values={"access_log_format": "{h} {i[x-request-id]}"})


def test_no_other_servers_name_shadows_a_setting():
    names = {setting.name for setting in settings.SETTINGS} | {"config"}
    assert not names & set(migration.NAMES)
    for origin, setting, note in migration.NAMES.values():
        assert origin in ("gunicorn", "uvicorn", "gunicorn and uvicorn")
        assert setting is None or setting in names
        assert setting is not None or note


def test_flags_win_over_the_environment_which_wins_over_the_file(tmp_path):
    config = tmp_path / "prefork.toml"
    config.write_text("workers = 2\ntimeout = 40\nbacklog = 100\n")
    proc = prefork("check-config", "-c", str(config), "--workers", "5",
                   env={"PREFORK_WORKERS": "4", "PREFORK_TIMEOUT": "50", "WEB_CONCURRENCY": "9"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "workers = 5  # argv:--workers" in lines
    assert "timeout = 50.0  # env:PREFORK_TIMEOUT" in lines
    assert f"backlog = 100  # {config}:backlog" in lines


def test_version():
    proc = prefork("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("prefork ")


def test_the_migration_page_lists_every_name_the_hints_know():
    import os
    import re
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "gunicorn.md")) as fh:
        page = fh.read().lower()
    quoted = set(re.findall(r"`(-{0,2}[a-z0-9_-]+)`", page))
    for name in map(str.lower, migration.NAMES):  # (the page is read in lower case; -R is a key as it is)
        assert {name, "-" + name, "--" + name.replace("_", "-")} & quoted, name


def test_the_service_unit_does_not_restart_a_daemon_that_cannot_start():
    """Exit status 2 (bad configuration) and 3 (the app does not boot) need a person:
    systemd must not restart into the same failure until its start limit trips."""
    import configparser
    import os
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "systemd", "prefork.service"))
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert set(service["RestartPreventExitStatus"].split()) == {"2", "3"}


def test_gunicorns_docker_recipe_flags_and_its_timeout_0_are_explained():
    proc = prefork("--worker-tmp-dir", "/dev/shm", "-v")
    assert proc.returncode == 2
    assert "  --worker-tmp-dir is gunicorn's: workers report to the master over a socketpair, not through a " \
           "temporary file: nothing to set" in proc.stderr.splitlines()
    assert "  -v is gunicorn's: prefork's version is --version" in proc.stderr.splitlines()
    proc = prefork("check-config", "--timeout", "0")
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith("argv:--timeout: must be at least 0.5, got 0.0 (gunicorn's 0 (no limit) has no equal "
                           "here: the heartbeat comes from the worker's loop")


def test_help_puts_every_option_under_one_heading():
    from prefork import cli
    grouped = [name for _, names in cli.HELP_GROUPS for name in names]
    assert sorted(grouped) == sorted(setting.name for setting in settings.SETTINGS)
    out = prefork("--help").stdout
    headings = [line[:-1] for line in out.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert headings[-len(cli.HELP_GROUPS):] == [title for title, _ in cli.HELP_GROUPS]
    workers = out.index("\nworkers and supervision:")
    assert workers < out.index("  --max-worker-memory N", workers) < out.index("\nthe app:")


def test_trusted_peer_lists_take_gunicorns_comma_separated_form(tmp_path):
    """``--forwarded-allow-ips "a,b"`` (gunicorn's spelling) and a comma-separated string in
    the file are lists of peers; each entry is still checked."""
    config = tmp_path / "prefork.toml"
    config.write_text('forwarded_allow_ips = "10.0.0.1, 10.0.0.0/8"\nproxy_allow_ips = ["10.0.0.5,unix"]\n')
    proc = prefork("check-config", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f'forwarded_allow_ips = ["10.0.0.1", "10.0.0.0/8"]  # {config}:forwarded_allow_ips' in lines
    assert f'proxy_allow_ips = ["10.0.0.5", "unix"]  # {config}:proxy_allow_ips' in lines
    proc = prefork("check-config", "--forwarded-allow-ips", "10.0.0.1,10.0.0.2")
    assert 'forwarded_allow_ips = ["10.0.0.1", "10.0.0.2"]  # argv:--forwarded-allow-ips' in \
        proc.stdout.splitlines(), proc.stderr
    bad = prefork("check-config", "--forwarded-allow-ips", "10.0.0.1,nonsense")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == ["argv:--forwarded-allow-ips: 'nonsense' is not an IP address, "
                                       "a network (CIDR), * or unix"]
