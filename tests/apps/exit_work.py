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
    os.write(2, f"{line} in {os.getpid()}\n".encode())


atexit.register(say, "atexit hook ran")


def _hang():
    if os.environ.get("HANG_AT_EXIT"):
        say("a hook hangs")
        time.sleep(3600)


atexit.register(_hang)  # (hooks run last registered first: this one before the one above)


class _LoggingStream:
    """What some apps put in sys.stderr: a stream with no descriptor."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


if os.environ.get("REPLACE_STDERR"):
    sys.stderr = _LoggingStream()


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
