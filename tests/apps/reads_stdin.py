"""An events app that reads a line from its standard input while it loads (a leftover
``input()``), then answers what it read."""

import sys

LINE = sys.stdin.readline()


def setup(server):
    server.on("request", lambda req, res: res.end(f"read {LINE!r}\n"))
