"""A WSGI app whose import, when $SLOW_FILE exists (a reload's new generation), sets a
SIGTERM handler of its own (it says when it runs) and then loads slowly: until
$RELEASE_FILE exists (at most a minute). With $FAIL_FIRST (a path) too, the first
worker to get there fails to load once another one is loading. Each response names the
worker's pid."""

import os
import signal
import sys
import time

if os.path.exists(os.environ["SLOW_FILE"]):
    signal.signal(signal.SIGTERM, lambda *_: print(f"app TERM handler in {os.getpid()}", file=sys.stderr,
                                                    flush=True))
    first = os.environ.get("FAIL_FIRST")
    if first:
        try:
            os.close(os.open(first, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            open(f"{first}.other", "w").close()
        else:
            until = time.monotonic() + 60
            while not os.path.exists(f"{first}.other") and time.monotonic() < until:
                time.sleep(0.01)
            raise RuntimeError("config missing")
    print(f"slow import in {os.getpid()}", file=sys.stderr, flush=True)
    until = time.monotonic() + 60
    while not os.path.exists(os.environ["RELEASE_FILE"]) and time.monotonic() < until:
        time.sleep(0.01)
    print(f"import done in {os.getpid()}", file=sys.stderr, flush=True)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pid%d" % os.getpid()]
