"""An app for the operator journey tests (events interface).

/print/TEXT      prints TEXT and a newline to stdout (as apps do for their own logs)
/partial/TEXT    prints TEXT without a newline
/orphan          starts a shell that leaves a short sleep behind and exits at once: the
                 sleep is orphaned, and reparented to the nearest reaper
/grow/MIB        keeps MIB more mebibytes alive in this worker (a leak)
anything else    pid PID
"""

import os
import subprocess
import sys

HELD = []  # the leak: one list per worker process


def setup(server):
    def on_request(req, res):
        path = req.url.split("?", 1)[0]
        if path.startswith("/print/"):
            print(path[len("/print/"):])
        elif path.startswith("/partial/"):
            sys.stdout.write(path[len("/partial/"):])
        elif path == "/orphan":
            shell = subprocess.run(["sh", "-c", "sleep 0.2 >/dev/null 2>&1 & echo $!"], capture_output=True,
                                   text=True, check=True)
            res.end(shell.stdout.strip())
            return
        elif path.startswith("/grow/"):
            block = bytearray(int(path[len("/grow/"):]) * 1024 * 1024)
            for offset in range(0, len(block), 4096):  # touched, so resident
                block[offset] = 1
            HELD.append(block)
        res.end(f"pid {os.getpid()}")
    server.on("request", on_request)
