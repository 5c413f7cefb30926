"""Error log and access log on stdlib logging; both reopen on USR1.

The error log also takes over fd 2 when it is a file, so that tracebacks and the stack
dump of an aborted worker (faulthandler) land in it.
"""

import logging
import os
import sys
import time

ERROR_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


class _ReopenableFile(logging.StreamHandler):
    def __init__(self, path, take_fd2=False):
        self.path = path
        self.take_fd2 = take_fd2
        super().__init__(self._open())

    def _open(self):
        stream = open(self.path, "a", buffering=1, encoding="utf-8")
        if self.take_fd2:
            os.dup2(stream.fileno(), 2)
        return stream

    def reopen(self):
        self.acquire()
        try:
            old = self.stream
            self.stream = self._open()
            old.close()
        finally:
            self.release()


def setup(settings):
    """Configure the ``prefork`` logger (errors) and ``prefork.access``."""
    root = logging.getLogger("prefork")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if settings.error_log and settings.error_log != "-":
        handler = _ReopenableFile(settings.error_log, take_fd2=True)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(ERROR_FORMAT))
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    root.propagate = False
    access = logging.getLogger("prefork.access")
    for h in list(access.handlers):
        access.removeHandler(h)
    access.propagate = False
    if settings.access_log:
        if settings.access_log == "-":
            ah = logging.StreamHandler(sys.stderr)
        else:
            ah = _ReopenableFile(settings.access_log)
        ah.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(ah)
        access.setLevel(logging.INFO)
        access.disabled = False
    else:
        access.disabled = True


def reopen():
    for name in ("prefork", "prefork.access"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, _ReopenableFile):
                handler.reopen()


class AccessLog:
    """Formats one line per response with the configured fields."""

    def __init__(self, fmt):
        self.fmt = fmt
        self.logger = logging.getLogger("prefork.access")
        self.pid = os.getpid()

    @property
    def enabled(self):
        return not self.logger.disabled and bool(self.logger.handlers)

    def log(self, req, res, duration):
        headers = req.headers
        length = res.get_header("content-length")
        self.logger.info(self.fmt.format(
            h=req.socket.remote_address or "-",
            t=time.strftime("%d/%b/%Y:%H:%M:%S %z"),
            r=f"{req.method} {req.url} HTTP/{req.http_version}",
            m=req.method, U=req.url, s=res.status_code,
            b=res.bytes_sent if res.bytes_sent else (length or "-"),
            f=headers.get("referer", "-"), a=headers.get("user-agent", "-"),
            D=int(duration * 1e6), L=f"{duration:.6f}", p=self.pid))
