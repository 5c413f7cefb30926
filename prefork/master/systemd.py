"""systemd's notify and socket-activation protocols, without a dependency.

- ``notify``: sd_notify(3): one datagram of ``KEY=VALUE`` lines to the AF_UNIX socket
  named by ``$NOTIFY_SOCKET`` (a path, or an abstract name when it starts with ``@``).
- ``listen_fds``: sd_listen_fds(3): when ``$LISTEN_PID`` is this process, ``$LISTEN_FDS``
  sockets start at fd 3 (SD_LISTEN_FDS_START), named by ``$LISTEN_FDNAMES``
  (colon-separated). The variables are removed so that children do not see them.
"""

import os
import socket

SD_LISTEN_FDS_START = 3


def notify(message, env=None):
    """Send ``message`` (e.g. "READY=1") to the service manager; False if there is none."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(address)
        sock.sendall(message.encode() if isinstance(message, str) else message)
        return True
    except OSError:
        return False
    finally:
        sock.close()


def listen_fds(unset=True, env=None):
    """The inherited sockets as ``[(fd, name), ...]`` (empty when not socket-activated)."""
    env = os.environ if env is None else env
    try:
        pid = int(env.get("LISTEN_PID", ""))
        count = int(env.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    names = env.get("LISTEN_FDNAMES", "").split(":") if env.get("LISTEN_FDNAMES") else []
    if unset:
        for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(key, None)
    if pid != os.getpid() or count <= 0:
        return []
    fds = []
    for i in range(count):
        fd = SD_LISTEN_FDS_START + i
        try:
            os.set_inheritable(fd, False)
        except OSError:
            pass  # not open (LISTEN_FDS counts more than were passed): the caller says so
        fds.append((fd, names[i] if i < len(names) else "unknown"))
    return fds
