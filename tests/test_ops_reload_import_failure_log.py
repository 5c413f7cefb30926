"""A HUP whose new workers fail to import the app (a deploy broke the code on disk): the
old generation keeps serving, and the log says the failure once: the worker's
traceback, the master's ``reload aborted`` line with its last line, then one outcome
line that points above rather than repeating it."""

import json
import re
import signal
import urllib.request


def test_a_reload_whose_app_no_longer_imports_says_the_error_once_and_keeps_serving(daemons, tmp_path):
    count_file = tmp_path / "boots"
    d = daemons(app="apps.broken_later:setup", workers=1,
                env={"BOOT_COUNT_FILE": str(count_file), "BOOT_SLOW": "0"})
    d.wait_ready()
    d.signal(signal.SIGHUP)  # the second import: it works
    d.wait_log(r"reload: generation 2 ready")
    d.signal(signal.SIGHUP)  # the third: it raises
    d.wait_log(r"reload refused")
    log = d.log()
    assert "reload aborted: a new worker failed to boot (exit status 3):\nRuntimeError: a deploy broke the code" \
        in log, log
    outcome = re.search(r".*reload refused.*", log)[0]
    assert outcome.endswith("reload refused: a new worker failed to boot (exit status 3), above; keeping the running "
                            "configuration and workers"), \
        outcome
    assert log.count("RuntimeError: a deploy broke the code") == 2, log  # the traceback's, the master's
    assert d.request().startswith(b"HTTP/1.1 200 OK")
    with urllib.request.urlopen(f"http://127.0.0.1:{d.metrics_port()}/status.json", timeout=10) as response:
        master = json.load(response)["master"]
    assert master["reload_failures"] == 1, master
    assert master["last_reload_error"] == "a new worker failed to boot (exit status 3): " \
                                          "RuntimeError: a deploy broke the code", master
