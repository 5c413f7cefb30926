"""A WebSocket app that sends a message after its handshake's HTTP answer is complete
(the 403 of a ``websocket.close`` before the accept, or a denial response whose last
body message is out) gets a ``RuntimeError`` naming that answer, as uvicorn raises one
(with ``--ws wsproto`` and ``--ws websockets``): the app broke the protocol, the client
never left. (Before, it got ``ClientDisconnected``, which Starlette reads as the client
gone.) The answer on the wire is unchanged."""


from daemon import Daemon, wait_until
from harness import get_until_close


def answer(port, path):
    return get_until_close(port, path, websocket=True)


def test_a_message_after_the_403_or_a_complete_denial_raises_runtime_error_naming_the_answer(tmp_path):
    log = tmp_path / "log"
    d = Daemon(app="apps.asgi_after_answer:app", workers=1, env={"ASGI_AFTER_ANSWER_LOG": str(log)})
    paths = ["/403/accept", "/403/send", "/denial/accept", "/denial/body", "/403/send/late", "/denial/body/late"]
    try:
        d.wait_ready()
        for path in paths:
            data = answer(d.port, path)
            if path.startswith("/403"):
                assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n"), (path, data)
            else:
                assert data.startswith(b"HTTP/1.1 401 Unauthorized\r\n") and data.endswith(b"\r\n\r\nno"), (path, data)
        wait_until(lambda: log.exists() and len(log.read_text().splitlines()) == len(paths), 10,
                   what=f"the apps' records: {log.read_text() if log.exists() else None!r}")
        records = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in log.read_text().splitlines()}
        for path in paths:
            kind = {"accept": "websocket.accept", "send": "websocket.send",
                    "body": "websocket.http.response.body"}[path.split("/")[2]]
            what = "a 403" if path.startswith("/403") else "the app's denial response (401)"
            assert records[path].startswith(f"RuntimeError: Unexpected ASGI message '{kind}': the handshake "
                                            f"was already answered with {what}"), (path, records[path])
            assert "answer is complete" in records[path], records[path]
    finally:
        d.cleanup()
