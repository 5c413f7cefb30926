"""An app for the operator journey tests (events interface).

/print/TEXT      prints TEXT and a newline to stdout (as apps do for their own logs)
/partial/TEXT    prints TEXT without a newline
/stderr/TEXT     writes "TEXT PID" and a newline to stderr (the error log, when that is a file)
/orphan          starts a shell that leaves a short sleep behind and exits at once: the
                 sleep is orphaned, and reparented to the nearest reaper
/grow/MIB        keeps MIB more mebibytes alive in this worker (a leak)
/sleep/SECONDS   answers after SECONDS, without blocking the loop
anything else    pid PID
"""

import os
import subprocess
import sys
import time

HELD = []  # the leak: one list per worker process


def setup(server):
    def on_request(req, res):
        path = req.url.split("?", 1)[0]
        if path.startswith("/print/"):
            print(path[len("/print/"):])
        elif path.startswith("/stderr/"):
            sys.stderr.write(f"{path[len('/stderr/'):]} {os.getpid()}\n")
            sys.stderr.flush()
        elif path.startswith("/partial/"):
            sys.stdout.write(path[len("/partial/"):])
        elif path == "/orphan":
            shell = subprocess.run(["sh", "-c", "sleep 1 >/dev/null 2>&1 & echo $!"], capture_output=True,
                                   text=True, check=True)
            res.end(shell.stdout.strip())
            return
        elif path.startswith("/sleep/"):
            server.loop.call_later(float(path[len("/sleep/"):]), res.end, f"slept {os.getpid()}")
            return
        elif path.startswith("/grow/"):
            block = bytearray(int(path[len("/grow/"):]) * 1024 * 1024)
            for offset in range(0, len(block), 4096):  # touched, so resident
                block[offset] = 1
            HELD.append(block)
        res.end(f"pid {os.getpid()}")
    server.on("request", on_request)


def growing_setup(server):
    """The same app; each worker keeps GROW_MIB more mebibytes half a second after it is
    ready (an app that loads a large cache once it has started)."""
    setup(server)

    def grow():
        block = bytearray(int(os.environ["GROW_MIB"]) * 1024 * 1024)
        for offset in range(0, len(block), 4096):  # touched, so resident
            block[offset] = 1
        HELD.append(block)
    server.loop.call_later(0.5, grow)


def slow_setup(server):
    """The same app, after BOOT_SECONDS (default 2) of set-up in each worker."""
    time.sleep(float(os.environ.get("BOOT_SECONDS", "2")))
    setup(server)


def crash_after_ready(server):
    """The app, in a worker that dies a tenth of a second after it started serving."""
    setup(server)
    server.loop.call_later(0.1, os._exit, 1)
