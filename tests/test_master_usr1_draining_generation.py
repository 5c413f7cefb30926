"""USR1 while a reload's old generation still drains, after the reload changed
``access_log``: each worker gets the file of its own generation's settings, so the old
generation's last lines go to the file it was writing (rotated and made anew), not to
the new generation's. Real daemon, real signals."""

import signal
import socket
import threading

from daemon import read_until_close, wait_until


def test_a_draining_old_generation_reopens_its_own_access_log(daemons, tmp_path):
    old_log, new_log = tmp_path / "old.log", tmp_path / "new.log"
    conf = tmp_path / "prefork.toml"
    conf.write_text(f'access_log = "{old_log}"\naccess_log_flush = 0\n')
    d = daemons("--config", str(conf), access_log=None, workers=1)
    d.wait_ready()
    answer = {}

    def slow():
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=30)
        try:
            sock.sendall(b"GET /sleep/8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer["data"] = read_until_close(sock)
        finally:
            sock.close()
    client = threading.Thread(target=slow)
    client.start()
    try:
        wait_until(lambda: '"GET /sleep/8' not in old_log.read_text() and d.scrape().get(
            ("prefork_connections_active", ())) == 1, 10, what="the slow request in flight")
        conf.write_text(f'access_log = "{new_log}"\naccess_log_flush = 0\n')
        d.signal(signal.SIGHUP)
        d.wait_log("generation 2 ready")
        assert d.request().startswith(b"HTTP/1.1 200 OK")  # the new generation writes to new.log
        wait_until(lambda: new_log.exists() and '"GET / ' in new_log.read_text(), 5, what="new.log's line")
        assert "data" not in answer  # (the slow request is still in the old worker)
        old_log.rename(tmp_path / "old.log.1")  # logrotate's create mode
        d.signal(signal.SIGUSR1)
        d.wait_log("log files reopened")
    finally:
        client.join(30)
    assert answer["data"].startswith(b"HTTP/1.1 200 OK"), answer
    wait_until(lambda: old_log.exists() and '"GET /sleep/8' in old_log.read_text(), 5,
               what=lambda: f"the draining worker's line in old.log; new.log: {new_log.read_text()!r}")
    assert '"GET /sleep/8' not in new_log.read_text()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
