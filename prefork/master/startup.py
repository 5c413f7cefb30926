"""What the master opens before its loop runs, and gives back when it exits: the listen
sockets, the operations endpoint, the pidfile.

Rules:
- Anything that cannot be opened is a configuration problem: ``open_all`` raises
  ``ConfigError`` with one ``SOURCE:KEY: what is wrong`` line each (``SOURCE:KEY:
  ADDRESS: what is wrong`` for an address), having kept nothing open and left no socket
  file behind.
- A pidfile naming a running prefork master refuses the start before anything is bound.
- A ``group`` without a ``user`` for a master started as root is said in a warning: its
  workers keep user root (gunicorn's do the same, silently).
- A ``proxy_protocol_bind`` entry must name a listener in use: socket activation
  replaces ``bind``, and a ``systemd:NAME`` needs it.
- The master needs a descriptor per worker, twice over while a reload runs two
  generations, besides the operations endpoints' connections and its own few: when
  its soft RLIMIT_NOFILE is below that for ``workers`` (a shell's ``ulimit -n`` of
  1024 with hundreds of workers), it raises it up to the hard limit; past the hard
  limit the worker count is a configuration problem. Once it has raised it, workers get
  the soft limit the daemon was started with (``master.worker_nofile``), never above the
  hard limit of the moment.
- After a USR2 the listeners and the operations endpoints' listener handed over are
  taken again, each under its configured address (``listeners.py``); one the new
  configuration does not name is closed.
- A UNIX socket file of ``bind`` belongs to ``user`` and ``group`` when the master
  runs as root with either set (``group``, else ``user``'s own group), as gunicorn's
  does: a ``unix_socket_mode`` of 0o660 then lets that group in (a proxy's), not root's.
  Mode and owner are set again on a socket a USR2 kept: the new configuration's apply
  (where it sets no user or group, those a file made now gets, as after a restart: the
  master's user, the group of a set-group-ID directory or the master's).
- ``close_all`` removes the UNIX socket files and the pidfile this daemon made (never
  on a re-exec: the new program keeps them).
- A HUP writes the pidfile again when it is gone or names no live prefork master (a
  cleaner of /run, an operator's ``rm``), as gunicorn's reload rewrites its pidfile
  (``restore_pidfile``); one naming another live master, or a path holding something
  else (a FIFO, never opened: it would block the master), is left alone (a warning that
  names the path as it is).
- After a USR2 whose configuration moved the pidfile or a UNIX socket path, the
  previous program's pidfile and socket files are removed once the new ones are in
  place (``drop_previous``), each only while it is still this daemon's: a pidfile that
  holds this PID, a socket file of the same inode. One another process put there since
  stays; nothing goes when the new program fails to open what it needs.
"""

import grp
import json
import logging
import os
import pwd
import resource
import stat

from .. import settings as settings_mod
from . import counted, listeners as listeners_mod, operations, pidfile

log = logging.getLogger("prefork.master")

PREVIOUS_FILES_ENV = "PREFORK_PREVIOUS_FILES"  # set by a USR2 (reexec.previous_files)

DESCRIPTORS_BASE = 96  # the operations endpoints' 64 connections, listeners, logs, the loop's own
DESCRIPTORS_PER_WORKER = 2  # a channel each, for two generations during a reload


def where(settings, name):
    source = settings.sources.get(name, "default")
    return "default:" + name if source == "default" else source


def same_socket(opened, address):
    """The address of the first of ``opened`` (``[(address, socket)]``) that is the very
    socket ``address`` (``fd://N``) names, or None."""
    if not address.startswith("fd://") or not address[5:].isdigit():
        return None
    try:
        theirs = os.fstat(int(address[5:]))
    except OSError:
        return None
    return next((key for key, sock in opened
                 if (os.fstat(sock.fileno()).st_ino, os.fstat(sock.fileno()).st_dev) == (theirs.st_ino, theirs.st_dev)),
                None)


def open_all(master):
    """Open what ``master.settings`` names, in ``master.listeners``, ``master.metrics_server``
    and ``master.unix_paths``; write the pidfile."""
    settings = master.settings
    if settings.pidfile and (holder := pidfile.holder(settings.pidfile)) is not None:
        raise settings_mod.ConfigError([f"{where(settings, 'pidfile')}: {settings.pidfile}: prefork is already "
                                        f"running as pid {holder}"])
    if settings.group and not settings.user and os.getuid() == 0:
        log.warning("%s: the workers take group %s but keep user root (set user too, to drop root)",
                    where(settings, "group"), settings.group)
    problems = []
    shortage = descriptors(master, master.target)
    if shortage:
        raise settings_mod.ConfigError([f"{where(settings, 'workers')}: {shortage}"])
    inherited = listeners_mod.inherited()  # a USR2's hand-over: the listeners, the operations endpoints'
    handed = [sock for _, sock in inherited]
    try:
        try:
            master.listeners = listeners_mod.open_listeners(settings.bind, settings.backlog,
                                                              unix_mode=settings.unix_socket_mode,
                                                              inherited=inherited)
        except listeners_mod.ListenError as exc:
            problems += [f"{where(settings, 'bind')}: {address}: {reason}" for address, reason in exc.failures]
        # (systemd's sockets all serve the app: fd://N naming one of them; after a USR2 the
        # one handed over under metrics: is the endpoints' own, whatever its number now)
        taken = not any(key.startswith(listeners_mod.METRICS_PREFIX) for key, _ in inherited) \
            and same_socket(master.listeners, settings.metrics_bind)
        if taken:
            problems.append(f"{where(settings, 'metrics_bind')}: {settings.metrics_bind}: the same socket as "
                            f"{taken}, a bind address (the operations endpoints need a socket of their own)")
        elif settings.metrics_bind:
            try:
                operations.start_metrics(master, settings.metrics_bind, inherited)
            except listeners_mod.ListenError as exc:
                for address, reason in exc.failures:  # (in use by one of bind's: named, as bind's own are)
                    other = listeners_mod.held_by(master.listeners, address) if "in use" in reason else None
                    source = where(settings, 'metrics_bind')
                    if other:
                        reason += f" (by {other}, a bind address)"
                    elif "in use" in reason and source.startswith("default:"):  # another daemon's, most likely
                        reason += (" (the operations endpoints' default address; another daemon's? set "
                                   "metrics_bind to a free address, or to \"\" to serve none)")
                    problems.append(f"{source}: {address}: {reason}")
    finally:
        for _, sock in inherited:  # handed over, but no longer configured
            sock.close()
    opened = {address for address, _ in master.listeners}
    for address in settings.proxy_protocol_bind if master.listeners else ():
        if address not in opened:
            problems.append(f"{where(settings, 'proxy_protocol_bind')}: {address}: no listener has this "
                            f"address (listening on {', '.join(sorted(opened))})")
    master.unix_paths = listeners_mod.unix_paths(master.listeners)
    kept = {path for path, _ in listeners_mod.unix_paths([item for item in master.listeners if item[1] in handed])}
    owner = socket_owner(settings)
    for path, _ in master.unix_paths if not problems else ():
        try:
            os.chmod(path, settings.unix_socket_mode)  # (again for a socket a USR2 kept: its new mode)
            if owner is not None:
                info = os.stat(path)
                uid, gid = owner
                if path in kept:  # where the configuration does not say, what a file made now gets
                    uid, gid = (os.geteuid() if uid is None else uid), (made_gid(path) if gid is None else gid)
                wanted = (info.st_uid if uid is None else uid, info.st_gid if gid is None else gid)
                if wanted != (info.st_uid, info.st_gid):
                    os.chown(path, *wanted)
        except OSError as exc:
            problems.append(f"{where(settings, 'bind')}: unix:{path}: cannot set its mode or owner: "
                            f"{(exc.strerror or str(exc)).lower()}")
    if not problems and settings.pidfile:
        try:
            pidfile.write(settings.pidfile)
        except pidfile.AlreadyRunning as exc:  # started meanwhile, past the check above
            problems.append(f"{where(settings, 'pidfile')}: {settings.pidfile}: prefork is already running as pid "
                            f"{exc.pid}")
        except OSError as exc:
            problems.append(f"{where(settings, 'pidfile')}: {settings.pidfile}: cannot write: {reason_of(exc)}")
    previous = os.environ.pop(PREVIOUS_FILES_ENV, None)
    if problems:
        listeners_mod.remove_unix_paths(master.unix_paths)
        master.close_listeners()
        if master.metrics_server is not None:
            master.metrics_server.close()
        raise settings_mod.ConfigError(problems)
    if previous:
        drop_previous(master, previous)


def reason_of(exc):
    """What an OSError says, for a line that names the path itself: the system's words
    in lower case; a message of our own (it may name a path) as it is."""
    return exc.strerror.lower() if exc.strerror else str(exc)


def socket_owner(settings):
    """``(uid, gid)`` the UNIX socket files go to, as the workers' own identity resolves
    (None where ``user``, or ``group``, does not say: a file made now keeps its own, one a
    USR2 kept goes back to what a file made now gets); None when not root."""
    if os.getuid() != 0:
        return None
    uid = gid = None
    if settings.user.isdigit():
        uid = int(settings.user)
        try:
            gid = pwd.getpwuid(uid).pw_gid
        except KeyError:
            pass  # a uid without a passwd entry comes with group (settings checks)
    elif settings.user:
        entry = pwd.getpwnam(settings.user)
        uid, gid = entry.pw_uid, entry.pw_gid
    if settings.group:
        gid = int(settings.group) if settings.group.isdigit() else grp.getgrnam(settings.group).gr_gid
    return uid, gid


def made_gid(path):
    """The group a file made now at ``path`` gets: its directory's when that directory is
    set-group-ID (a proxy's group given that way), else the master's."""
    directory = os.stat(os.path.dirname(os.path.abspath(path)))
    return directory.st_gid if directory.st_mode & stat.S_ISGID else os.getegid()


def drop_previous(master, previous):
    """The pidfile and UNIX socket files of the program this one re-executed from
    (``previous``: reexec.previous_files) that the running configuration no longer
    names, removed while they are still this daemon's."""
    try:
        files = json.loads(previous)
        old_pidfile, old_paths = files.get("pidfile"), [(path, inode) for path, inode in files.get("unix", ())]
    except (ValueError, TypeError, AttributeError):
        return
    pid_path = master.settings.pidfile
    if old_pidfile and old_pidfile != (os.path.abspath(pid_path) if pid_path else None):
        if pidfile.remove(old_pidfile):
            log.info("removed the previous pidfile %s", old_pidfile)
    kept = {os.path.abspath(path) for path, _ in master.unix_paths}
    listeners_mod.remove_unix_paths([(path, inode) for path, inode in old_paths if path not in kept])


def descriptor_shortage(workers):
    """What is wrong when even the hard descriptor limit is too low for ``workers`` (else
    None); ``check-config`` says it as a start would."""
    need = DESCRIPTORS_BASE + DESCRIPTORS_PER_WORKER * workers
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need or hard == resource.RLIM_INFINITY or hard >= need:
        return None
    return (f"{counted(workers, 'worker')} need{'s' * (workers == 1)} {need} open files in the master (a channel "
            f"each, twice during a reload, and the operations endpoints); this process may open {hard} (ulimit -Hn): "
            f"raise the limit (LimitNOFILE= under systemd, --ulimit nofile= under Docker) or lower workers")


def descriptors(master, workers):
    """Raise the soft descriptor limit for ``workers`` if needed; what is wrong when
    even the hard limit is too low (else None)."""
    need = DESCRIPTORS_BASE + DESCRIPTORS_PER_WORKER * workers
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return None
    shortage = descriptor_shortage(workers)
    if shortage is not None:
        return shortage
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    if master.worker_nofile is None:  # what the workers keep: the limit before the first raise
        master.worker_nofile = soft
    return None


def close_all(master):
    """At the master's exit (not a re-exec): the socket files and the pidfile go."""
    if master.reexecuted:
        return
    listeners_mod.remove_unix_paths(master.unix_paths)
    if master.settings.pidfile:
        pidfile.remove(master.settings.pidfile)


def restore_pidfile(master):
    """On HUP: the pidfile written again if it no longer names this master (see the rules)."""
    path = master.settings.pidfile
    if not path:
        return
    if pidfile.read(path) == str(os.getpid()).encode():
        return
    reason = pidfile.not_a_pidfile(path)  # (a FIFO put there is never opened: it would block)
    if reason is not None:
        log.warning("HUP: the pidfile %s %s: left as it is", path, reason)
        return
    try:
        pidfile.write(path)
    except pidfile.AlreadyRunning as exc:
        log.warning("HUP: the pidfile %s names another running prefork master (pid %d): left as it is", path, exc.pid)
    except OSError as exc:
        log.warning("HUP: the pidfile %s cannot be written again: %s", path, reason_of(exc))
    else:
        log.info("HUP: the pidfile %s was gone or named another process: written again", path)
