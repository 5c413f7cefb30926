"""Hello world for benchmarks (events interface)."""

BODY = b"Hello, World!"


def setup(server):
    server.on("request", lambda req, res: res.end(BODY))
