"""A refused reload says each problem once, as ``reload: PROBLEM``, then one outcome
line that counts the problems rather than repeating the first of them; /status.json
still shows the reason."""

import json
import re
import signal
import urllib.request


def test_a_refused_reload_logs_each_problem_once_and_one_outcome_line(daemons, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("workers = 1\n")
    d = daemons("--config", str(config), workers=None)
    d.wait_ready()
    config.write_text('workers = "many"\nkeep_alive_timeout = "soon"\n')
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload refused")
    log = d.log()
    assert log.count("workers: expected an integer") == 1, log
    assert log.count("keep_alive_timeout: expected a number") == 1, log
    outcome = re.search(r".*reload refused.*", log)[0]
    assert outcome.endswith("reload refused (2 problems, above); keeping the running configuration and workers"), \
        outcome
    config.write_text("workers = 1\n[table]\n")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload refused \(1 problem, above\)")
    assert d.log().count("unknown setting (a table") == 1, d.log()
    with urllib.request.urlopen(f"http://127.0.0.1:{d.metrics_port()}/status.json", timeout=10) as response:
        master = json.load(response)["master"]
    assert master["reload_failures"] == 2 and "a table" in master["last_reload_error"], master
    assert d.request().startswith(b"HTTP/1.1 200 OK")
