"""An events app with exit work: an atexit hook (as error reporters and tracers
register one), on /executor a job in the loop's default executor, and on /thread a
non-daemon thread that finishes its job a second
later; each says what it did on stderr (the error log)."""

import asyncio
import atexit
import os
import sys
import threading
import time


def say(line):
    print(f"{line} in {os.getpid()}", file=sys.stderr, flush=True)


atexit.register(say, "atexit hook ran")


def _hang():
    if os.environ.get("HANG_AT_EXIT"):
        say("a hook hangs")
        time.sleep(3600)


atexit.register(_hang)  # (hooks run last registered first: this one before the one above)


def setup(server):
    async def on_request(req, res):
        if req.url == "/executor":  # the loop's default executor gets a worker thread (non-daemon)
            await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.05)
        if req.url == "/thread":
            def job():
                say("thread began")
                time.sleep(float(os.environ.get("THREAD_SECONDS", "1")))
                say("thread finished its job")
            threading.Thread(target=job).start()
        res.end("ok")
    server.on("request", on_request)
