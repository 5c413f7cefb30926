"""A response whose access-log line cannot be made (an app set ``req.url`` to an object
whose text raises) loses that line only: the other responses of its batch are still
counted in the metrics and written to the log, and the failure is logged. A real server
on a loop thread, with the worker's access log and metrics."""

import logging
import os
import socket
import threading

import prefork
from prefork import logs
from prefork.metrics import WorkerMetrics
from prefork.runtime import new_event_loop
from prefork.settings import DEFAULT_ACCESS_FORMAT


class Unprintable:
    def __str__(self):
        raise RuntimeError("no text")

    def __format__(self, spec):
        return str(self)


def test_a_line_that_cannot_be_made_loses_only_itself(tmp_path, caplog):
    loop = new_event_loop(os.environ.get("PREFORK_TEST_LOOP", "asyncio"))

    def on_request(req, res):
        if req.url == "/bad":
            req.url = Unprintable()
        res.end("ok")
    server = prefork.create_server(on_request, loop=loop)
    access = logs.AccessLog(str(tmp_path / "access.log"), DEFAULT_ACCESS_FORMAT, 3600.0)
    metrics = WorkerMetrics(server)
    server.response_observer = access.observer(loop, metrics)
    server.listen(0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.address()["port"]), timeout=10) as sock:
            for i in range(10):
                sock.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % (b"bad" if i == 3 else b"n%d" % i))
                data = b""
                while not data.endswith(b"ok"):
                    chunk = sock.recv(65536)
                    assert chunk, data
                    data += chunk
        done = threading.Event()
        counted = []

        def settle():
            with caplog.at_level(logging.ERROR, logger="prefork"):
                counted.append(metrics.snapshot()["requests"])  # (the held batch is made and counted)
                access.close()
            done.set()
        loop.call_soon_threadsafe(settle)
        assert done.wait(10)
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert counted == [{"GET 200": 10}]
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) == 9 and all('"GET /n' in line for line in lines), lines
    assert any("lines lost" in record.getMessage() for record in caplog.records), caplog.records
