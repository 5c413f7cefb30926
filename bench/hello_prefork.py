"""Hello-world standalone event server for benchmarks: python bench/hello_prefork.py PORT"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import prefork  # noqa: E402

BODY = b"Hello, World!"


def on_request(req, res):
    res.end(BODY)


server = prefork.create_server(on_request)
server.listen(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
print(server.address()["port"], flush=True)
server.loop.run_forever()
