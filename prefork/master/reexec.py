"""USR2: the master re-executes itself in place (same PID, same listen sockets), and
the new program adopts the workers of the old one until they have drained.

Rules:
- The new program is tried first: ``check-config`` with the same interpreter, command
  line and environment runs as a child (posix_spawn: nothing of the master's state is
  copied) while the master goes on serving. Only when it exits 0 within
  ``CHECK_TIMEOUT`` plus ``timeout`` (the check loads the app in a child bounded by
  ``timeout``, as a worker's boot is: the new configuration's, when longer than the
  running one's) does the master exec; otherwise the re-exec is
  refused, its reason logged (the check's own ``SOURCE:KEY`` lines included) and nothing
  changes. The check's standard error (the app's import may write much there) is read as
  it comes, its last ``CHECK_OUTPUT_KEPT`` bytes kept: a full pipe never stalls it. So an interpreter that is gone, a start directory that is gone
  (``apps.started_in``: one a deploy replaced is followed), code that no longer imports
  (prefork's or the app's), a configuration that has gone bad, or a new listen address
  that cannot be opened (the check tries each one the new program would not inherit:
  ``listeners.trial_bind``) leaves the running daemon as it was.
- The old workers are not signalled before the exec: their control channels are
  close-on-exec, so they see them close at the exec and drain, as on TERM. If the exec
  itself fails, the master takes up its signals again and keeps its workers.
- The configuration file is read once, by the master, before the check: its content
  (a regular file of up to 64 KiB) is what the check validates and what the new program
  starts with (both take it from their environment), so an edit meanwhile reaches
  neither and the new code alone judges it (a setting only the new version knows is
  valid). A file the master cannot hand over (larger, not UTF-8) is read by each of
  them; the master then reads it once more just before the exec, and one gone bad
  since the check refuses the re-exec (logged).
- A USR2 while a check runs is ignored (logged); a stop (TERM, INT, QUIT) ends the
  check, and no re-exec follows. The check leads its own process group, and ending it
  (a stop, its time bound) kills that group: the child it loads the app in goes too, and
  so does, once the check has exited, any process the app's import started there.
- From the moment the re-exec is decided, the master's signals are blocked: one that
  arrives while the new program starts stays pending until the new master has its
  handlers, instead of killing it by its default action (HUP, USR1, TERM) or vanishing
  (PID 1 ignores a signal it has no handler for).
- Under systemd the exec is a reload (``Type=notify-reload``): ``RELOADING=1`` with
  ``MONOTONIC_USEC`` goes out just before it, and the new program's ``READY=1`` (with
  ``MAINPID``: the same PID) ends it; an exec that fails sends ``READY=1`` itself. Before
  the master has booted (``master.booted``) neither goes out: systemd has had no
  ``READY=1`` yet, and the first one (``check_booted``, of this program or the new one)
  says the workers serve.
"""

import json
import logging
import os
import signal
import stat
import sys
import time

from .. import logs, settings as settings_mod
from ..apps import follow_start, started_in
from . import listeners as listeners_mod, operations, reload as reload_mod, startup, systemd

log = logging.getLogger("prefork.master")

RETIRE_ENV = "PREFORK_RETIRE"
CHECK_TIMEOUT = 30.0  # seconds the new program's check-config may take
CHECK_OUTPUT_KEPT = 64 * 1024  # bytes of the check's standard error kept for its refusal's log lines
CHECKED_CONFIG_LIMIT = 64 * 1024  # the largest configuration handed to the new program in its environment


class Check:
    """The running ``check-config`` child of a USR2: its pid and its stderr."""

    def __init__(self, pid, fd):
        self.pid = pid
        self.fd = fd
        self.timer = None
        self.output = b""  # the last CHECK_OUTPUT_KEPT bytes it wrote
        self.text = None  # the configuration file's content it was given (configuration_text)
        self.bound = None  # the seconds it may take (check_bound)


def command():
    """The argv that starts this program again (the interpreter, its options, the
    module or script, the arguments)."""
    args = sys.argv[1:]
    head = sys.orig_argv[:len(sys.orig_argv) - len(args)]
    return [sys.executable] + head[1:], args


def reexec(master):
    """Check the new program, then replace this process's code with it."""
    if master.stopping:
        return
    if master.reexec_check is not None:
        log.warning("USR2 ignored: the new program is still being checked")
        return
    follow_start()  # the directory prefork started in, replaced by a deploy: the new program starts in the new one
    try:
        os.getcwd()
    except FileNotFoundError:  # Python cannot start in a directory that is gone
        log.error("USR2 refused: %s, the directory prefork was started in, is gone; the running master goes on",
                  started_in())
        return
    head, args = command()
    env = dict(os.environ)
    handed_over = master.listeners + ([master.metrics_listener] if master.metrics_listener else [])
    env[listeners_mod.HANDOVER_ENV] = json.dumps([key for key, _ in handed_over])  # the others are tried
    text = configuration_text(master.settings.config_file)
    if text is not None:
        env[settings_mod.CHECKED_CONFIG_ENV] = text
    read_fd, write_fd = os.pipe()
    try:
        pid = os.posix_spawn(head[0], head + ["check-config"] + args, env, setpgroup=0,
                             setsigmask=(), file_actions=[
                                 (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                 (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                 (os.POSIX_SPAWN_DUP2, write_fd, 2)])
    except OSError as exc:
        os.close(read_fd)
        log.error("USR2 refused: cannot start %s: %s; the running master goes on", head[0], exc.strerror or exc)
        return
    finally:
        os.close(write_fd)
    os.set_blocking(read_fd, False)
    check = master.reexec_check = Check(pid, read_fd)
    check.text = text
    check.bound = check_bound(master, text)
    master.loop.add_reader(read_fd, take_output, master, check)
    check.timer = master.loop.call_later(check.bound, timed_out, master, check)
    log.info("USR2: checking the new program (pid %d) before re-executing", pid)


def check_bound(master, text):
    """Seconds the new program's check may take: its own start and checks, and the
    load of the app, which it bounds by the ``timeout`` of the configuration it reads
    (``text``: the file's content handed to it), the longer of that and the running one."""
    try:
        timeout = master.reload_settings(master.settings, text).timeout
    except settings_mod.ConfigError:  # the check says what is wrong, at once
        timeout = 0
    return CHECK_TIMEOUT + max(timeout, master.settings.timeout)


def timed_out(master, check):
    if master.reexec_check is check:
        log.error("USR2 refused: the new program's check took over %.0f s", check.bound)
        # its process group (the app load it runs in a child too); reaped as any child,
        # its exit then changes nothing
        master.kill(-check.pid, signal.SIGKILL)
        finish(master, check)


def take_output(master, check):
    """Keep what the check wrote to its standard error since the last read (its last
    ``CHECK_OUTPUT_KEPT`` bytes); False once nothing more is there now."""
    try:
        data = os.read(check.fd, 65536)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        data = b""
    if not data:  # its end: every writer gone
        master.loop.remove_reader(check.fd)
        return False
    check.output = (check.output + data)[-CHECK_OUTPUT_KEPT:]
    return True


def finish(master, check):
    master.reexec_check = None
    if check.timer is not None:
        check.timer.cancel()
    for _ in range(64):  # what is left in the pipe (bounded: a process of the app's may still write)
        if not take_output(master, check):
            break
    master.loop.remove_reader(check.fd)
    os.close(check.fd)
    return check.output.decode(errors="replace")


def checked(master, pid, status):
    """The check child ``pid`` exited: exec when it passed, else log why not."""
    check = master.reexec_check
    if check is None or check.pid != pid:
        return
    output = finish(master, check)
    # what the app's import started in it (a helper process) is left in its group: it goes too
    master.kill(-pid, signal.SIGKILL)
    code = os.waitstatus_to_exitcode(status)
    if master.stopping:  # a stop came first: no re-exec, nothing to report
        return
    if code != 0:
        for line in output.strip().splitlines()[-20:]:
            log.error("USR2: %s", line)
        log.error("USR2 refused: the new program's check-config exited with status %d; the running master goes on",
                  code)
        reload_mod.run_queued(master)  # a HUP that waited for the outcome
        return
    operations.quiesce(master, lambda: execute(master, check.text) if not master.stopping
                       else operations.resume(master))


def execute(master, checked):
    """Replace this process's code in place: same PID, same listen sockets (every one,
    in order, and the operations endpoints' listener: ``listeners.py``). ``checked``: the
    configuration file's content the check validated (None: none handed over)."""
    if checked is None and master.settings.config_file and not configuration_holds(master):
        operations.resume(master)
        reload_mod.run_queued(master)  # a HUP that waited for the outcome
        return
    # a signal from here on waits, blocked, for the new program's handlers (the mask and
    # pending signals survive exec; dispositions do not)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, master.SIGNALS)
    log.info("USR2: re-executing the master (pid %d)", os.getpid())
    env = dict(os.environ)
    handed_over = master.listeners + ([master.metrics_listener] if master.metrics_listener else [])
    env[listeners_mod.INHERIT_ENV] = listeners_mod.for_exec(handed_over)
    env[RETIRE_ENV] = ",".join(map(str, list(master.workers) + list(master.foreign)))
    env[startup.PREVIOUS_FILES_ENV] = previous_files(master)
    if checked is not None:
        env[settings_mod.CHECKED_CONFIG_ENV] = checked
    stderr = logs.stderr_for_exec(True)  # the original stderr, which an error log file took fd 2 from
    if stderr is not None:
        env[logs.STDERR_ENV] = stderr
    for signum in master.SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    master.reexecuted = True
    sys.stdout.flush()
    sys.stderr.flush()
    head, args = command()
    if master.booted:  # (the new master's READY=1 ends it)
        systemd.notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
    try:
        os.execve(head[0], head + args, env)
    except OSError as exc:
        master.reexecuted = False
        for _, sock in handed_over:
            os.set_inheritable(sock.fileno(), False)
        logs.stderr_for_exec(False)
        for signum in master.SIGNALS:
            master.loop.add_signal_handler(signum, master.on_signal, signum)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        log.error("USR2: re-exec failed: %s; the running master goes on", exc.strerror or exc)
        if master.booted:  # (before, check_booted sends the first READY=1 once the workers serve)
            systemd.notify(f"READY=1\nSTATUS={master.status()}")
        operations.resume(master)


def previous_files(master):
    """The files this program made, for the new one to remove those its configuration
    no longer names (``startup.drop_previous``): JSON ``{"pidfile": PATH or null,
    "unix": [[PATH, INODE], ...]}``, absolute paths."""
    pid_path = master.settings.pidfile
    return json.dumps({"pidfile": os.path.abspath(pid_path) if pid_path else None,
                       "unix": [[os.path.abspath(path), inode] for path, inode in master.unix_paths]})


def configuration_text(path):
    """The content of the configuration file ``path`` to hand to the check and the new
    program; None without one, or for one that is not a regular file of at most
    ``CHECKED_CONFIG_LIMIT`` bytes of UTF-8 (each then reads and judges the file)."""
    if not path:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # (a FIFO put there must not block the master)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, CHECKED_CONFIG_LIMIT + 1)
        return data.decode() if len(data) <= CHECKED_CONFIG_LIMIT else None
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


def configuration_holds(master):
    """The configuration file read again just before the exec, when its content was not
    handed over: one that went bad since the check read it (edited meanwhile) would stop
    the new program at its start, and with it the daemon; the re-exec is refused instead
    (logged)."""
    try:
        master.reload_settings()
    except settings_mod.ConfigError as exc:
        for problem in exc.problems:
            log.error("USR2: %s", problem)
        log.error("USR2 refused: the configuration changed after the new program's check and is not valid; "
                  "the running master goes on")
        return False
    return True


def adopt_retiring(master):
    """Workers of the master this process re-executed from: reap them, bound their drain."""
    pids = os.environ.pop(RETIRE_ENV, "")
    deadline = time.monotonic() + master.settings.graceful_timeout
    for pid in filter(None, pids.split(",")):
        master.foreign[int(pid)] = deadline
    if master.foreign:
        master.loop.call_soon(master.reap)
