"""prefork's side of a journey program: ``python journey_server.py module:function``.

The function (in a module under tests/) gets ``(server, log)``; ``log(ev, **fields)``
prints the JSON line the Node side's ``log(ev, {...})`` prints. stdin takes the same
commands as the Node side: sync, exit, close, closeIdle, closeAll.
"""

import importlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(1, HERE)

import prefork  # noqa: E402
from prefork.runtime import new_event_loop  # noqa: E402


def main():
    module, function = sys.argv[1].split(":")
    loop = new_event_loop(os.environ.get("PREFORK_TEST_LOOP", "asyncio"))
    server = prefork.create_server(loop=loop)
    t0 = time.monotonic()

    def log(ev, **fields):
        fields = dict(ev=ev, **fields)
        fields["t"] = int((time.monotonic() - t0) * 1000)
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    server.on("connection", lambda s: log("accept", port=s.remote_port, conn=0))
    getattr(importlib.import_module(module), function)(server, log)
    pending = []

    def on_stdin():
        data = os.read(0, 4096)
        if not data:
            loop.stop()
            return
        pending.append(data.decode())
        text = "".join(pending)
        *lines, rest = text.split("\n")
        pending[:] = [rest]
        for cmd in lines:
            cmd = cmd.strip()
            if cmd == "sync":
                log("sync")
            elif cmd == "exit":
                loop.stop()
            elif cmd == "close":
                server.close(lambda *_: log("close.cb"))
            elif cmd == "closeIdle":
                server.close_idle_connections()
            elif cmd == "closeAll":
                server.close_all_connections()
    loop.add_reader(0, on_stdin)
    server.listen(0, callback=lambda *_: log("listening", port=server.address()["port"]))
    loop.run_forever()


if __name__ == "__main__":
    main()
