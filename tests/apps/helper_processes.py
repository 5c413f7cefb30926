"""An app that starts a helper process at its import in each worker (``sleep 300``, in
the worker's process group) and writes the helper's PID to ``$HELPERS_DIR/<worker pid>``."""

import os
import subprocess

HELPER = subprocess.Popen(["sleep", "300"])
with open(os.path.join(os.environ["HELPERS_DIR"], str(os.getpid())), "w") as fh:
    fh.write(str(HELPER.pid))


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"hi\n"]


def moved(environ, start_response):
    """``app``, from a worker that has moved itself into its helper's process group."""
    return app(environ, start_response)


if os.environ.get("MOVE_WORKER"):
    MOVED_TO = subprocess.Popen(["sleep", "300"], process_group=0)
    os.setpgid(0, MOVED_TO.pid)
    with open(os.path.join(os.environ["HELPERS_DIR"], f"moved-{os.getpid()}"), "w") as fh:
        fh.write(str(MOVED_TO.pid))
