"""Development reload (``reload = true``): a watcher process reports changed source
files and the master reloads the workers the way HUP does (a new generation boots, then
the old one drains), so a change never drops a request.

Rules:
- The master stays single-threaded. watchfiles' watch blocks (in a Rust thread), so it
  runs in a process of its own (``python -m prefork.master.autoreload``), spawned with
  posix_spawn (no fork of the master's state) in its own process group. It writes one
  line per batch of changes to a pipe; the master's loop reads the other end. Nothing
  else passes between them.
- The watcher lives as long as the master's read end: between watch steps it polls its
  write end for the hang-up that comes when the master stopped, died or re-executed
  itself (the read end is close-on-exec), and exits. Workers close their inherited copy
  right after fork, so only the master keeps the watcher alive.
- The watcher needs a second or so to start watching, while the workers may be ready
  (and an edit saved) before that: the master passes it the file-system clock's time
  from before it spawned anything, and once watching, the watcher reports every watched
  file changed (its ctime or mtime) since then with its first batch. So a change made
  at any time after the master started is applied, and readiness does not wait for the
  watcher (as uvicorn's server does not wait for its reloader's first scan).
- What is watched: ``reload_dirs``, or else the app's own directory (its top-level
  package, or the folder of its module, found without importing it); files whose paths
  match one of ``reload_include`` from the right (``*.py`` by the name alone,
  ``templates/*.html`` by the name and its folder's), outside the usual clutter (.git,
  __pycache__, .venv, editor swap files).
- A change seen while a generation is still booting (the first, or a reload's) is
  applied once it is up (checked every RETRY seconds, only while a change waits);
  changes while the master stops are ignored. A new generation that fails to boot (a
  syntax error) leaves the running one serving; the next change tries again. So does a
  first generation that fails to boot: the master stays up (not ready) and starts its
  workers again at the next change, as uvicorn's reloader waits for one.
- With reload on, the master and its workers write no bytecode: an edit made in the
  same second as the previous one, with the same size, is never served from a stale
  ``.pyc``.
"""

import json
import logging
import os
import signal
import sys
import time

from . import reload
from .. import apps

log = logging.getLogger("prefork.master")

RETRY = 0.25  # seconds between checks for the end of a reload while a change waits
READY_TIMEOUT_MS = 500  # the watcher reports it is watching after at most this long
MAX_REPORTED = 20  # file names per batch passed to the master's log
FUTURE_LEEWAY_NS = 1_000_000_000  # a stamp later than the early scan by more than this is not a change of now
# Linux stamps files from its coarse real-time clock (the last tick's time, up to a tick
# behind time.time()): a file written just after the master read time.time() could look older
CLOCK_REALTIME_COARSE = getattr(time, "CLOCK_REALTIME_COARSE", 5 if sys.platform == "linux" else None)


def file_clock_ns():
    """Now, on the clock files' timestamps are taken from (never later than theirs)."""
    if CLOCK_REALTIME_COARSE is not None:
        try:
            return time.clock_gettime_ns(CLOCK_REALTIME_COARSE)
        except OSError:
            pass
    return time.time_ns() - 10_000_000  # a tick's leeway: at worst a needless reload


def watched_dirs(settings):
    """The directories to watch: ``reload_dirs``, else the app's own directory: the
    folder of its module, or for a package found in the project's directory (the
    working directory, ``chdir``, ``app_dir``) that directory, whose other packages
    (a Django project's apps beside its settings package) the app imports too; a
    package found elsewhere (installed) is watched alone."""
    if settings.reload_dirs:
        return [os.path.abspath(path) for path in settings.reload_dirs]
    module = settings.app.partition(":")[0] if settings.app else "prefork"
    # where the workers will import it from (chdir, app_dir first); a top-level name imports nothing
    search = apps.search_dirs(settings.chdir, settings.app_dir)
    spec = apps.find_spec(module.split(".")[0], search)
    if spec is None:
        return [os.getcwd()]
    if spec.submodule_search_locations:
        packages = [os.path.abspath(path) for path in spec.submodule_search_locations]
        projects = sorted({os.path.dirname(path) for path in packages} & set(search))
        return projects or packages
    return [os.path.dirname(os.path.abspath(spec.origin))]


def start(master):
    """Spawn the watcher and start reading its reports on the master's loop."""
    sys.dont_write_bytecode = True  # see the module rules; the workers inherit it
    settings = master.settings
    return Reloader(master, watched_dirs(settings), list(settings.reload_include))


class Reloader:
    def __init__(self, master, dirs, patterns):
        self.master = master
        self.dirs = dirs
        self.patterns = patterns
        self.pending = False
        self.retry = None
        self.buffer = b""
        since = file_clock_ns()  # before any worker read the app's files
        read_fd, write_fd = os.pipe()  # both close-on-exec
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        # -P: the project directory (the working directory) is not first on its path: a project's
        # json.py or logging.py is not the stdlib's to the watcher
        argv = [sys.executable, "-P", "-m", "prefork.master.autoreload", str(write_fd), json.dumps(patterns),
                str(since), *dirs]
        os.set_inheritable(write_fd, True)
        try:
            self.pid = os.posix_spawn(sys.executable, argv, env, setpgroup=0, setsigmask=(),
                                      file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.fd = read_fd
        master.loop.add_reader(read_fd, self.on_readable)
        log.info("reload: watcher started (pid %d)", self.pid)

    def on_readable(self):
        try:
            data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            log.error("reload: the file watcher (pid %d) exited; changes are no longer watched", self.pid)
            self.close()
            return
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            kind, _, rest = line.decode(errors="replace").partition(" ")
            if kind == "ready":
                log.info("reload: watching %s for %s", ", ".join(self.dirs), ", ".join(self.patterns))
            elif kind == "changed":
                log.info("reload: changed: %s", rest)
                self.pending = True
        self.apply()

    def apply(self):
        self.retry = None
        master = self.master
        if not self.pending or self.fd is None:
            return
        if master.stopping:
            self.pending = False
            return
        if master.boot_failed:  # the first generation never came up: it boots again
            self.pending = False
            log.info("reload: starting the workers again")
            master.retry_boot()
            return
        if master.new_generation is not None or not master.booted:  # it may have read the old file
            self.retry = master.loop.call_later(RETRY, self.apply)
            return
        self.pending = False
        reload.reload(master)

    def watching(self):
        """Whether changes are still reported (the watcher runs)."""
        return self.fd is not None

    def close(self):
        """Stop reading and end the watcher."""
        if self.fd is None:
            return
        if self.retry is not None:
            self.retry.cancel()
            self.retry = None
        self.master.loop.remove_reader(self.fd)
        os.close(self.fd)
        self.fd = None
        try:
            os.kill(self.pid, signal.SIGTERM)  # sooner than its next check; the master reaps it
        except ProcessLookupError:
            pass

    def close_in_child(self):
        """In a forked worker: drop the inherited read end without touching the loop."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# -- the watcher process ------------------------------------------------------------------
class MasterGone:
    """watchfiles' stop event: set once the master's read end of the pipe is closed."""

    def __init__(self, fd):
        import select
        self.poller = select.poll()
        self.poller.register(fd, 0)  # POLLERR and POLLHUP are always reported

    def is_set(self):
        return bool(self.poller.poll(0))


def changed_since(since, dirs, wanted, clutter_dirs):
    """The paths of the wanted files under dirs whose content or name changed at or after
    since (ns) and not after the walk, by either stamp (a future mtime, from a copy made
    on a machine whose clock is ahead, is no change of now; its ctime tells when it
    came), walked outside the clutter folders and through linked folders as watchfiles
    watches them (each folder once)."""
    found = set()
    until = file_clock_ns() + FUTURE_LEEWAY_NS
    seen = set()
    for top in dirs:
        for folder, subdirs, files in os.walk(top, followlinks=True):
            try:
                stat = os.stat(folder)
            except OSError:
                subdirs[:] = []
                continue
            if (stat.st_dev, stat.st_ino) in seen:  # (a link back up: walked already)
                subdirs[:] = []
                continue
            seen.add((stat.st_dev, stat.st_ino))
            subdirs[:] = [name for name in subdirs if name not in clutter_dirs]
            for name in files:
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:  # gone meanwhile, or a dangling link
                    continue
                if (since <= stat.st_mtime_ns <= until or since <= stat.st_ctime_ns <= until) and wanted(path):
                    found.add(path)
    return found


def watch(fd, patterns, since, dirs):
    from pathlib import PurePath

    from watchfiles import Change, DefaultFilter, watch as watch_files

    clutter = DefaultFilter()

    def wanted(change, path):
        # matched from the right, as uvicorn's --reload-include: "*.py" by the file's name,
        # "templates/*.html" by its name and its folder's
        path = PurePath(path)
        return clutter(change, str(path)) and any(path.match(pattern) for pattern in patterns)

    ready = False
    for changes in watch_files(*dirs, watch_filter=wanted, stop_event=MasterGone(fd), raise_interrupt=False,
                               rust_timeout=READY_TIMEOUT_MS, yield_on_timeout=True):
        lines = [] if ready else [b"ready\n"]
        if not ready:  # watching now: what changed before is seen by its timestamps
            earlier = changed_since(since, dirs, lambda path: wanted(Change.modified, path), clutter.ignore_dirs)
            changes = changes | {(Change.modified, path) for path in earlier}
        ready = True
        if changes:
            names = sorted({path.replace("\n", "?") for _, path in changes})
            shown = ", ".join(names[:MAX_REPORTED]) + (f" and {len(names) - MAX_REPORTED} more"
                                                       if len(names) > MAX_REPORTED else "")
            lines.append(f"changed {shown}\n".encode(errors="replace"))
        try:
            os.write(fd, b"".join(lines))
        except BrokenPipeError:
            return


def main(argv):
    fd, patterns, since, dirs = int(argv[0]), json.loads(argv[1]), int(argv[2]), argv[3:]
    os.closerange(3, fd)  # inherited listen sockets and the like: the watcher needs none
    os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
    try:
        from setproctitle import setproctitle
        setproctitle("prefork: reload watcher")
    except ImportError:
        pass
    watch(fd, patterns, since, dirs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
