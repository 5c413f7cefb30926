"""Several addresses written as one ``bind`` entry (``-b a:1,b:2``, ``PREFORK_BIND="a:1 b:2"``,
``bind = "a:1,b:2"``) are refused with how to list them where they were given: ``-b``
once per address, the variable comma-separated, the file's list one string per address;
before, the line said only what form one address takes."""

import subprocess
import sys

from daemon import python_env

FORMS = "HOST:PORT, [V6]:PORT, unix:PATH or fd://N"


def check(tmp_path, *args, command=("check-config",), **env):
    return subprocess.run([sys.executable, "-m", "prefork", *command, *args], capture_output=True, text=True,
                          timeout=30, env=python_env(**env), cwd=tmp_path, stdin=subprocess.DEVNULL)


def test_a_flag_with_two_addresses_is_told_to_repeat_b(tmp_path):
    proc = check(tmp_path, "-b", "127.0.0.1:8000,127.0.0.1:8001")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "argv:--bind: 127.0.0.1:8000,127.0.0.1:8001: 2 addresses written as one entry, which takes one (repeat -b "
        "once per address: -b 127.0.0.1:8000 -b 127.0.0.1:8001)"], proc.stderr


def test_a_start_is_refused_with_the_same_line(tmp_path):
    proc = check(tmp_path, "-b", "127.0.0.1:0 unix:s.sock", command=())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "argv:--bind: 127.0.0.1:0 unix:s.sock: 2 addresses written as one entry, which takes one (repeat -b " \
           "once per address: -b 127.0.0.1:0 -b unix:s.sock)\n" in proc.stderr, proc.stderr


def test_the_variable_is_told_its_comma_separated_form_which_it_takes(tmp_path):
    proc = check(tmp_path, PREFORK_BIND="127.0.0.1:8000 https://[::1]:8001")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "env:PREFORK_BIND: 127.0.0.1:8000 https://[::1]:8001: 2 addresses written as one entry, which takes one "
        "(PREFORK_BIND takes them comma-separated: PREFORK_BIND=127.0.0.1:8000,https://[::1]:8001)"], proc.stderr
    proc = check(tmp_path, PREFORK_BIND="127.0.0.1:8000,127.0.0.1:8001")
    assert proc.returncode == 0, proc.stderr
    assert 'bind = ["127.0.0.1:8000", "127.0.0.1:8001"]  # env:PREFORK_BIND' in proc.stdout, proc.stdout


def test_the_file_is_told_its_list_with_its_other_entries_kept(tmp_path):
    (tmp_path / "a.toml").write_text('bind = ["unix:a.sock", "127.0.0.1:8000; 127.0.0.1:8001"]\n')
    (tmp_path / "b.toml").write_text('bind = "127.0.0.1:8000,127.0.0.1:8001"\n')
    lines = [check(tmp_path, "-c", name).stderr for name in ("a.toml", "b.toml")]
    assert lines == [
        "a.toml:bind: 127.0.0.1:8000; 127.0.0.1:8001: 2 addresses written as one entry, which takes one (one string "
        'per address: bind = ["unix:a.sock", "127.0.0.1:8000", "127.0.0.1:8001"])\n',
        "b.toml:bind: 127.0.0.1:8000,127.0.0.1:8001: 2 addresses written as one entry, which takes one (one string "
        'per address: bind = ["127.0.0.1:8000", "127.0.0.1:8001"])\n'], lines


def test_metrics_bind_is_told_it_takes_one(tmp_path):
    proc = check(tmp_path, "--metrics-bind", "127.0.0.1:9000,127.0.0.1:9001")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "argv:--metrics-bind: 127.0.0.1:9000,127.0.0.1:9001: 2 addresses written as one entry, which takes one "
        "(metrics_bind serves on one address)"], proc.stderr


def test_an_entry_whose_parts_are_not_all_addresses_keeps_the_forms_line(tmp_path):
    proc = check(tmp_path, "-b", "127.0.0.1:8000,somewhere")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"argv:--bind: 127.0.0.1:8000,somewhere: expected {FORMS}"], proc.stderr


def test_the_variables_hint_keeps_its_other_addresses(tmp_path):
    proc = check(tmp_path, PREFORK_BIND="127.0.0.1:8000, 127.0.0.1:8001 127.0.0.1:8002")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        "env:PREFORK_BIND: 127.0.0.1:8001 127.0.0.1:8002: 2 addresses written as one entry, which takes one "
        "(PREFORK_BIND takes them comma-separated: PREFORK_BIND=127.0.0.1:8000,127.0.0.1:8001,127.0.0.1:8002)"]
