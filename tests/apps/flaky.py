"""An events app that cannot be imported while the file named by $FLAKY_FLAG exists
(an app whose dependency went away after the daemon started)."""

import os

if os.path.exists(os.environ.get("FLAKY_FLAG", "/nonexistent")):
    raise RuntimeError("flaky: the flag file exists")


def setup(server):
    server.on("request", lambda req, res: res.end("ok"))
