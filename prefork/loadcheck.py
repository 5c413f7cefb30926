"""Whether a worker could load the app: check-config's trial load (gunicorn's
``--check-config`` and ``--print-config``, and a USR2's check), in a child process.

Rules:
- The load runs in a forked child, as a worker's does, bounded by ``timeout`` and as
  ``user`` and ``group``; its output goes to stderr, never into the settings printed on
  stdout. The verdict is the child's own word on a pipe, not its exit status alone (the
  app's import may exit with any status).
- 0 when the app loads, else 3 after the reason (``SOURCE:app: ...``).
"""

import os
import select
import signal
import sys
import time


class _Tail:
    """A text stream that remembers the last character written through it."""

    def __init__(self, stream):
        self.stream = stream
        self.last = "\n"

    def write(self, text):
        if text:
            self.last = text[-1]
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def check_app_loads(settings, where):
    """0 when a worker could load the app (imported and recognised, a factory called), else
    3 after the reason: ``SOURCE:app: what is wrong``, or the traceback of the app's own
    exception. The load runs in a child process, as a worker's does, so that the import's
    side effects and its change of directory stay there; what it prints goes to stderr,
    not into the settings printed on stdout. It is bounded by ``timeout``, as a worker's
    boot is, and runs as ``user`` and ``group`` when they are set, as a worker does. A
    USR2's check loads it too: the new program's workers would load the code on disk
    now, and one that no longer loads refuses the re-exec. ``where(settings, key)`` names
    a setting's source."""
    sys.stdout.flush()
    sys.stderr.flush()
    verdict_r, verdict_w = os.pipe()  # the child's own word: an exit status the app's import may set too
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.close(verdict_r)
            os.dup2(2, 1)
            sys.stdout = sys.stderr = tail = _Tail(sys.stderr)
            from . import apps, plugging, process

            plugging.preload(settings)  # prefork's own modules as this user, before the privileges go (as a worker)
            process.drop_privileges(settings)  # as a worker loads it: its import's side effects are the user's

            try:
                kind, _ = apps.load(settings.app, settings.interface, settings.chdir, settings.app_dir)
                code = 0  # (what a worker would warn of at its start, as a warning here)
                print("".join(f"warning: {warning}\n" for warning in plugging.unused_settings(kind, settings)), end="")
            except apps.AppError as exc:
                print(("" if tail.last == "\n" else "\n") + f"{where(settings, 'app')}: {exc}")
            except BaseException as exc:  # the app's own exception (SystemExit too): its traceback
                print(("" if tail.last == "\n" else "\n") + f"{where(settings, 'app')}: {settings.app} cannot "
                      f"be loaded:\n{apps.app_traceback(exc)}", end="")
        finally:
            try:
                sys.stderr.flush()
                os.write(verdict_w, b"%d" % code)
            finally:
                os._exit(code)
    os.close(verdict_w)
    try:
        status = _wait_load(settings, pid, where)
        # (not read to its end: a process the import started may hold the other end open)
        verdict = os.read(verdict_r, 8) if select.select([verdict_r], [], [], 0)[0] else b""
    finally:
        os.close(verdict_r)
    if status is not None and status < 0:
        print(f"{where(settings, 'app')}: {settings.app}: loading it was ended by signal "
              f"{signal.Signals(-status).name}", file=sys.stderr)
    elif status is not None and not verdict:  # its import ended the process (an exit call): a worker would end so, never ready
        print(f"{where(settings, 'app')}: {settings.app}: its import ended the process (exit status {status}) "
              f"before the app was loaded", file=sys.stderr)
    return 0 if status == 0 and verdict == b"0" else 3  # (None: past timeout, told)


def _wait_load(settings, pid, where):
    """The exit status of the app's load in child ``pid`` (negative: a signal), or None
    after reporting that it did not load within ``timeout`` (it is killed then)."""
    deadline = time.monotonic() + settings.timeout
    status = None
    exited = os.pidfd_open(pid)  # readable once the child has exited: a wait with a deadline
    try:
        while status is None:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print(f"{where(settings, 'app')}: {settings.app} did not load within timeout ({settings.timeout:g} s): "
                      f"a worker's boot is aborted so", file=sys.stderr)
                return None
            select.select([exited], [], [], remaining)
    finally:
        os.close(exited)
        if status is None:  # past the bound, or interrupted: the load goes with it
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return status
