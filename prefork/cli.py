"""Command line: ``prefork [--bind HOST:PORT]``; the only place that calls sys.exit."""

import argparse
import logging
import sys

from . import __version__, create_server
from .demo import setup


def main(argv=None):
    parser = argparse.ArgumentParser(prog="prefork", description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT to listen on")
    parser.add_argument("--version", action="version", version=f"prefork {__version__}")
    args = parser.parse_args(argv)
    host, _, port = args.bind.rpartition(":")
    if not port.isdigit():
        parser.error(f"--bind: expected HOST:PORT, got {args.bind!r}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = create_server()
    setup(server)
    server.listen(int(port), host.strip("[]") or "127.0.0.1")
    logging.getLogger("prefork").info("listening on %s", args.bind)
    try:
        server.loop.run()
    except KeyboardInterrupt:
        pass
    sys.exit(0)
