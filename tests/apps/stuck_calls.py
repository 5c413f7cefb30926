"""A WSGI app whose calls never return: /spin runs Python for ever, /sleep blocks in a
sleep. Each call first appends its worker's pid to the file STUCK_CALLS_NOTE names."""

import os
import time


def app(environ, start_response):
    with open(os.environ["STUCK_CALLS_NOTE"], "a") as note:
        note.write(f"{os.getpid()}\n")
    if environ["PATH_INFO"] == "/spin":
        while True:
            pass
    time.sleep(1000)
