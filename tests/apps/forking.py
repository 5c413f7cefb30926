"""An events app whose handlers start processes: a forked multiprocessing child it
then terminates (/terminate), and a program whose ignored signals it reports (/sigign)."""

import multiprocessing
import os
import subprocess
import sys
import time

if os.environ.get("REPORT_BOOT_SIGIGN"):  # a program the app runs as it loads
    status = subprocess.run(["grep", "SigIgn", "/proc/self/status"], capture_output=True, text=True)
    print(f"boot SigIgn {status.stdout.split()[1]}", file=sys.stderr, flush=True)


def _sleep():
    time.sleep(30)


def setup(server):
    def on_request(req, res):
        if req.url == "/terminate":
            child = multiprocessing.get_context("fork").Process(target=_sleep)
            child.start()
            time.sleep(0.2)  # the child is past its start: the TERM meets its own handlers
            child.terminate()
            child.join(10)
            res.end(f"{child.exitcode} {os.getpid()}")
        elif req.url == "/sigign":
            status = subprocess.run(["grep", "SigIgn", "/proc/self/status"], capture_output=True, text=True)
            res.end(status.stdout.split()[1])
        else:
            res.end(f"pid {os.getpid()}")
    server.on("request", on_request)
