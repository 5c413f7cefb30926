"""UNIX socket files the master binds: the path made ready for a bind, and the files
removed when the daemon stops.

Rules:
- A path that exists and is no socket (a regular file, a directory) is never removed:
  the bind is refused (``PathTaken``); so is a symbolic link to nothing, which a bind
  does not follow (the kernel would answer "address already in use").
- A socket file nothing answers on (a refused connect) is left over from a crash and
  removed, as gunicorn removes it; one a running server listens on is refused.
- At stop, a socket file is removed only if it is still the one this daemon made (the
  same inode): another daemon's socket on the path since stays.
"""

import errno
import os
import socket
import stat

from ..bindcheck import bind_address, dangling_link


class PathTaken(OSError):
    """A UNIX socket path that must not be replaced: ``str()`` says why."""


def unix_socket(path):
    """A new AF_UNIX stream socket for ``path`` and the path to bind, once a stale socket
    file there is removed; PathTaken when the path is not to be replaced."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISSOCK(mode):
        raise PathTaken(errno.EEXIST, "the path exists and is not a socket")
    if mode is None and os.path.islink(path):
        raise PathTaken(errno.EEXIST, dangling_link(path))
    if mode is not None:
        if _answers(path):
            raise PathTaken(errno.EADDRINUSE, "a running server listens on this socket")
        os.unlink(path)  # a stale socket from an earlier run
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), path


def _answers(path):
    """Whether something lives on the socket file ``path``: only a refused connect (or a
    file gone meanwhile) means it is left over. A datagram socket (EPROTOTYPE, syslog's
    /dev/log) or a server whose backlog is full (EAGAIN: the probe does not wait) lives."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(path)
        return True
    except (ConnectionRefusedError, FileNotFoundError):  # nobody listens: the file is left over
        return False
    except OSError:
        return True
    finally:
        probe.close()


def unix_paths(listeners):
    """``[(path, inode)]`` of the UNIX socket files among ``listeners`` (bind ``unix:``)."""
    paths = []
    for address, sock in listeners:
        address = bind_address(address)
        if address.startswith("unix:") and sock.family == socket.AF_UNIX:
            try:
                paths.append((address[5:], os.stat(address[5:]).st_ino))
            except OSError:
                pass
    return paths


def remove_unix_paths(paths):
    """Remove the socket files this daemon made, unless another has replaced them since."""
    for path, inode in paths:
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass
