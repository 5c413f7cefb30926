"""``check-config`` prints the effective settings as TOML: a value holding a control
character (a newline or an escape in ``proc_name``, a tab in ``access_log_format``) is
written escaped, so the output is valid TOML that reads back to the same values; a raw
newline inside a string made it invalid."""

import subprocess
import sys
import tomllib

from daemon import python_env

NAME = 'a\nb\x01"q\\z\tT\x7f\r'
FORMAT = "{h}\t{r}\t{s}"


def test_check_config_output_is_toml_that_reads_back(tmp_path):
    (tmp_path / "main.py").write_text("def app(environ, start_response):\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", "main:app", "--proc-name", NAME,
                           "--access-log-format", FORMAT], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=python_env())
    assert proc.returncode == 0, proc.stderr
    values = tomllib.loads(proc.stdout)
    assert values["proc_name"] == NAME
    assert values["access_log_format"] == FORMAT
    assert values["app"] == "main:app"
