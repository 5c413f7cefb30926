"""With ``chdir``, a relative ``reload_dirs`` entry is watched relative to where prefork
started (the master's directory), not to ``chdir`` as under gunicorn: it is warned of,
as the other relative paths the master uses are, rather than leaving ``--reload``
watching another directory without a word."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check(cwd, *args):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))


def test_a_relative_reload_dir_under_chdir_is_warned_of(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "src").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "project" / "app.py").write_text("def setup(server):\n    pass\n")
    proc = check(tmp_path, "--chdir", "project", "--reload-dir", "src", "--reload-dir", str(tmp_path / "src"),
                 "app:setup")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "relative to where prefork started" in line]
    assert warnings == [f"warning: argv:--reload-dirs: src is relative to where prefork started ({tmp_path}), "
                        f"not to chdir ({tmp_path / 'project'}): write it as an absolute path"], proc.stderr


def test_no_warning_without_chdir(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "app.py").write_text("def setup(server):\n    pass\n")
    proc = check(tmp_path, "--reload-dir", "src", "app:setup")
    assert proc.returncode == 0, proc.stderr
    assert "relative to where prefork started" not in proc.stderr
