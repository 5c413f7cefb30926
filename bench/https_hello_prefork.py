"""Hello-world standalone event server over TLS, for bench/tls_peers.py --instructions:
python bench/https_hello_prefork.py PORT CERT KEY (no CERT: plain HTTP)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import prefork  # noqa: E402
from prefork.net.tls import ServerTLS  # noqa: E402
from prefork.net.tlsconfig import build_context  # noqa: E402
from prefork.runtime import new_event_loop  # noqa: E402

BODY = b"Hello, World!"


def on_request(req, res):
    res.end(BODY)


server = prefork.create_server(on_request, loop=new_event_loop(os.environ.get("PREFORK_LOOP", "asyncio")))
tls = ServerTLS(build_context({"certfile": sys.argv[2], "keyfile": sys.argv[3]})) if len(sys.argv) > 3 else None
server.listen(int(sys.argv[1]), tls=tls)
print(server.address()["port"], flush=True)
server.loop.run_forever()
