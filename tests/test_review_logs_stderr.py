"""``access_log = "-"`` is stderr, the one prefork was started with, also when
``error_log`` names a file (which takes over the workers' fd 2 for tracebacks): the
access lines do not end up in the error log file."""

import http.client

from daemon import Daemon, wait_until


def test_access_lines_go_to_stderr_when_the_error_log_is_a_file(tmp_path):
    error_log = tmp_path / "error.log"
    d = Daemon("--error-log", str(error_log), "--access-log", "-", "--access-log-flush", "0",
               "--access-log-format", "ACCESS {m} {U} {s}", workers=2)
    try:
        # Daemon sends the process's stdout and stderr to d.log()
        wait_until(lambda: error_log.exists() and "workers ready" in error_log.read_text(), 15,
                   what="the workers ready, in the error log file")
        for n in range(4):
            conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
            conn.request("GET", f"/r{n}")
            conn.getresponse().read()
            conn.close()
        wait_until(lambda: d.log().count("ACCESS ") == 4, 10, what=lambda: f"4 lines on stderr in {d.log()!r}")
        assert sorted(line for line in d.log().splitlines() if line.startswith("ACCESS")) == [
            f"ACCESS GET /r{n} 200" for n in range(4)]
        assert "ACCESS" not in error_log.read_text()
    finally:
        d.cleanup()
