"""A WSGI app streaming for ever (a block every 50 ms), as server-sent events do; its
iterable's close() writes ``closed PID`` to the file ``WSGI_CLOSE_MARK`` names."""

import os
import time


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/event-stream")])
    return Endless()


class Endless:
    def __iter__(self):
        while True:
            yield b"data: tick\n\n"
            time.sleep(0.05)

    def close(self):
        with open(os.environ["WSGI_CLOSE_MARK"], "a") as fh:
            fh.write(f"closed {os.getpid()}\n")
