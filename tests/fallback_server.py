"""A prefork Server in its own process, for tests that need a fresh import (e.g. with
PREFORK_LLHTTP_REPLAY=off). Prints ``port N`` and ``replay True|False``, then one JSON line
per clientError (code, bytesParsed); the canned reply goes out as with no listener."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import prefork  # noqa: E402
from prefork.http.errors import replay_available  # noqa: E402
from prefork.http.serialize import CANNED  # noqa: E402


def main():
    loop = prefork.new_event_loop(os.environ.get("PREFORK_TEST_LOOP", "asyncio"))  # the workers' loop
    server = prefork.create_server(loop=loop)

    def on_request(req, res):
        req.on("data", lambda chunk: None)
        req.on("end", lambda: res.end("ok"))

    def on_client_error(err, sock):
        print(json.dumps({"code": err.code, "bytes_parsed": err.bytes_parsed}), flush=True)
        sock.end(CANNED[err.status_hint])

    server.on("request", on_request)
    server.on("clientError", on_client_error)
    server.listen(0)
    print(f"port {server.address()['port']}", flush=True)
    print(f"replay {replay_available()}", flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
