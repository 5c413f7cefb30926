"""What a worker process sets up for itself, apart from serving: its privileges, its
stdout's buffering, what a process it forks must not keep of it, and the app's own
exit work.

Rules:
- Privileges go (``user``, ``group``) after everything that needs them is open: the
  listeners, the log files, the TLS files, the loop's modules.
- The master's signals other than TERM, INT, QUIT and USR1 are caught and dropped by
  the worker (``dropped``), not set to SIG_IGN: an ignored signal stays ignored across
  exec, in every program the app runs. TTOU is the exception (ignored: caught, the
  write to a ``stty tostop`` terminal that raised it would be retried for ever).
- A process forked from a worker (multiprocessing, a process pool, ``os.fork``) is not
  the worker: ``not_the_worker`` runs in it at once (``os.register_at_fork``) and puts
  back the default actions and no wakeup descriptor, so a signal sent to it (a
  ``terminate()``) is its own and never reaches the worker's loop through the
  descriptor both share. The forking thread blocks the worker's signals across the
  fork (``guard_forks``), so one sent to the child before that (``start()`` then
  ``terminate()`` at once) waits for the default action instead of running the worker's
  handler in the child; an INT that waited so, or that comes while the fork's other
  hooks run, kills the child (SIGINT's default action); from the child's first call
  after ``os.fork`` returns (a one-shot profile hook tells it), INT raises
  KeyboardInterrupt, as in any Python program (unless a fork hook of the app's set
  another action: it is kept). A child that makes no call at all before an INT (a bare
  loop) dies of it; a ``preexec_fn`` runs before that first call (INT: death).
- A worker ends by ``os._exit`` (it must not unwind the master's stack it was forked
  in), which runs nothing of the app's: ``wind_down`` does what a normal exit does for
  it first. Non-daemon threads are joined, until the drain's bound at most (not at all
  after a fast stop; a warning names them; INT, TERM or QUIT meanwhile ends the wait),
  then the ``atexit`` hooks run (Sentry, OpenTelemetry and logging flush there;
  gunicorn's workers run them too), bounded: a hook still running at the drain's
  bound (``HOOKS_BOUND`` after a fast stop) has every thread's stack written to the
  error log and the worker exits (status 1) before the master's kill.
- ``serve``: an app that calls ``sys.exit()`` in a callback on the worker's loop ends
  the worker as it would end a Python program: the worker's exit steps run (the
  connections closed, the last counts sent, the ``atexit`` hooks) and its status is the
  one asked for (``None`` 0, a number itself, any other value 1 after it is written to
  the error log), not a traceback and status 1. A ``KeyboardInterrupt`` the app raises
  there ends it the same way, its traceback logged, with status 130.
- ``cancel_tasks``: at the worker's exit, the tasks still running are cancelled and
  get an unwind to run their ``finally`` blocks (one warning says how many).
- ``stop_default_executor``: the loop's own thread pool (``run_in_executor(None, ...)``)
  is shut down before the threads are counted: its idle threads are the loop's, not
  threads the app started, and are not waited for with a warning; one still running a
  job after ``EXECUTOR_BOUND`` is (as any thread of the app's).
"""

import asyncio
import atexit
import faulthandler
import grp
import inspect
import logging
import os
import pwd
import signal
import sys
import threading
from time import monotonic

log = logging.getLogger("prefork.worker")

HOOKS_BOUND = 1.0  # seconds the atexit hooks may take after a fast stop (the master kills at 2 s)
EXECUTOR_BOUND = 0.5  # seconds the loop's default executor gets to end its idle threads at the exit

WORKER_SIGNALS = (signal.SIGTERM, signal.SIGQUIT, signal.SIGUSR1, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU,
                  signal.SIGUSR2, signal.SIGABRT)
FORK_BLOCKED = frozenset(WORKER_SIGNALS) | {signal.SIGINT}
_fork_masks = {}  # thread -> its signal mask before the fork it is making


def drops_privileges(settings):
    """Whether ``drop_privileges`` changes this process's user or group."""
    return os.getuid() == 0 and bool(settings.user or settings.group)


def drop_privileges(settings):
    if not drops_privileges(settings):
        return
    if settings.group:
        gid = grp.getgrnam(settings.group).gr_gid if not settings.group.isdigit() else int(settings.group)
        os.setgid(gid)
        os.setgroups([gid])
    if settings.user:
        if settings.user.isdigit():  # a bare uid (a container's) need not have a passwd entry
            uid = int(settings.user)
            try:
                entry = pwd.getpwuid(uid)
            except KeyError:
                entry = None  # the configuration then gives a group too (settings checks)
        else:
            entry = pwd.getpwnam(settings.user)
            uid = entry.pw_uid
        if not settings.group:
            os.setgid(entry.pw_gid)
            os.initgroups(entry.pw_name, entry.pw_gid)
        os.setuid(uid)


def dropped():
    """A signal of the master's that means nothing to a worker."""


def guard_forks():
    """In a worker: a process it forks gets the worker's signals blocked until
    ``not_the_worker`` has put back the default actions (the forking thread's mask is
    the child's)."""
    os.register_at_fork(before=_block_for_fork, after_in_parent=_unblock_after_fork, after_in_child=not_the_worker)


def _block_for_fork():
    caller = inspect.currentframe().f_back  # (the frame calling os.fork: the hooks run under its call)
    _fork_masks[threading.get_ident()] = (signal.pthread_sigmask(signal.SIG_BLOCK, FORK_BLOCKED), caller,
                                          None if caller is None else caller.f_lasti)


def _unblock_after_fork():
    fork = _fork_masks.pop(threading.get_ident(), None)  # (the same thread in the child: pthread_self is kept)
    if fork is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, fork[0])
    return fork


def not_the_worker():
    """In a process forked from a worker (after fork, in the child): the worker's
    signal handlers and the loop's wakeup descriptor are not this process's. Its
    signals, blocked across the fork, then take their default actions. INT's is
    SIGINT's own (death) while the fork's hooks run, Python's KeyboardInterrupt from the
    child's first line of its own on (one raised inside a hook would only be printed
    as ignored, the child running on with the INT lost)."""
    try:
        signal.set_wakeup_fd(-1)
        for signum in WORKER_SIGNALS + (signal.SIGINT,):
            signal.signal(signum, signal.SIG_DFL)
    except (ValueError, OSError):  # (not the main thread: nothing of the worker's to undo there)
        _unblock_after_fork()
        _fork_masks.clear()
        return
    fork = _unblock_after_fork()
    _fork_masks.clear()  # (other threads' forks, under way in the parent, are not this process's)
    caller = None if fork is None else fork[1]
    if caller is None or sys.getprofile() is not None:  # (an app's profiler: not replaced)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return
    at = fork[2]

    def hooks_done(frame, event, arg):  # the first call or return once os.fork has returned
        if caller.f_lasti == at:
            return  # (a hook's code, under os.fork's call)
        sys.setprofile(None)
        if signal.getsignal(signal.SIGINT) is signal.SIG_DFL:  # (an app's own hook may have set another)
            signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.setprofile(hooks_done)


def line_buffered(stream):
    """Make a text stream write each line as it is completed (a no-op for other streams)."""
    try:
        stream.reconfigure(line_buffering=True)
    except (AttributeError, ValueError, OSError):
        pass


def wind_down(deadline):
    """The app's exit work before the worker's ``os._exit``: its non-daemon threads
    joined until ``deadline`` (a ``monotonic()`` time; None: not waited for), then its
    ``atexit`` hooks run, bounded (each one that raises is reported by ``atexit``
    itself). INT, TERM or QUIT meanwhile (a fast stop, Ctrl-C) ends the wait for the
    threads; the hooks still run."""
    hurry = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(signum, lambda signum, frame: hurry.append(signum))
    current = threading.current_thread()
    threads = [thread for thread in threading.enumerate() if thread is not current and not thread.daemon]
    if threads and deadline is not None and deadline > monotonic():
        log.warning("waiting up to %.1f s for %d thread%s the app started (not daemon threads): %s",
                    deadline - monotonic(), len(threads), "" if len(threads) == 1 else "s",
                    ", ".join(thread.name for thread in threads))
        for thread in threads:
            while thread.is_alive() and not hurry and monotonic() < deadline:
                thread.join(min(0.1, max(deadline - monotonic(), 0.0)))
    # the hooks get what is left of the bound (a fast stop's: HOOKS_BOUND); one that
    # hangs is shown (every thread's stack) and the worker ends, before the master's kill
    bound = HOOKS_BOUND if deadline is None or hurry else max(deadline - monotonic(), 0.0) + HOOKS_BOUND / 4
    try:  # (to fd 2, the error log: an app may have replaced sys.stderr with what has no fileno)
        faulthandler.dump_traceback_later(bound, exit=True, file=2)
    except (OSError, ValueError, RuntimeError):
        pass  # the hooks run unbounded rather than not at all
    try:
        atexit._run_exitfuncs()
    finally:
        faulthandler.cancel_dump_traceback_later()


def stop_default_executor(loop):
    shutdown = getattr(loop, "shutdown_default_executor", None)
    if shutdown is not None:
        loop.run_until_complete(asyncio.wait([loop.create_task(shutdown())], timeout=EXECUTOR_BOUND))


def serve(loop):
    """Run ``loop`` until it is stopped; the exit status the worker is to end with: 0, or
    the one an app's ``sys.exit()`` in a callback asked for (see the rules)."""
    try:
        loop.run_forever()
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            log.warning("the app called sys.exit(%s); the worker exits", code if code is not None else "")
            return code or 0
        log.error("the app called sys.exit(): %s; the worker exits", code)
        return 1
    except KeyboardInterrupt:  # (raised by the app's code: the worker's own SIGINT is handled)
        log.exception("KeyboardInterrupt in the app's code on the worker's loop; the worker exits")
        return 128 + signal.SIGINT  # (the status a shell gives a Python program it ends)
    return 0


def cancel_tasks(loop, unwind):
    """At the worker's exit, coroutine listeners still running (a request awaiting for
    ever) are cancelled and get ``unwind`` seconds to run their ``finally`` blocks, as
    the ASGI adapter's tasks get at its shutdown; their connections are gone by then."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if tasks:
        log.warning("cancelling %d task%s still running at the exit", len(tasks), "" if len(tasks) == 1 else "s")
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.wait(tasks, timeout=unwind))
