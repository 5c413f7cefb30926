"""uvicorn's ``--access-log`` is an on/off switch; here it takes the log's path. Given
with no value (last, or before another flag), the refusal says so, with what it takes:
exit status 2, nothing bound."""

import subprocess
import sys

import pytest

from daemon import python_env


@pytest.mark.parametrize("args", [["apps.basic:setup", "--access-log"], ["--access-log", "--workers", "1"]],
                         ids=["last", "before-a-flag"])
def test_access_log_without_a_value_is_told_it_is_uvicorns_switch(tmp_path, args):
    proc = subprocess.run([sys.executable, "-m", "prefork", *args, "-b", f"unix:{tmp_path}/sock",
                           "--metrics-bind", ""], capture_output=True, text=True, timeout=30, env=python_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[:2] == [
        "prefork: error: argument --access-log: expected one argument",
        "  --access-log with no value is uvicorn's switch: the access log is on here unless set empty "
        "(to stderr by default); --access-log takes - or a file's path"]
    assert not (tmp_path / "sock").exists()
