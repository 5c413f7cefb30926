"""Hello-world standalone event server for benchmarks: python bench/hello_prefork.py PORT
(PREFORK_LOOP=uvloop for the optional uvloop loop)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import prefork  # noqa: E402
from prefork.runtime import new_event_loop  # noqa: E402

BODY = b"Hello, World!"


def on_request(req, res):
    res.end(BODY)


server = prefork.create_server(on_request, loop=new_event_loop(os.environ.get("PREFORK_LOOP", "asyncio")))
server.listen(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
print(server.address()["port"], flush=True)
server.loop.run_forever()
