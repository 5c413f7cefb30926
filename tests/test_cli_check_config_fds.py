"""check-config runs in a process of its own, which may not hold the descriptors the
daemon will be handed: an ``fd://N`` it does not hold as a listening stream socket is a
warning (in the words a start refuses it with), not a pass in silence, nor a refusal."""

import socket
import subprocess
import sys

from daemon import python_env


def check(*args, pass_fds=()):
    return subprocess.run([sys.executable, "-m", "prefork", "check-config", *args], capture_output=True, text=True,
                          timeout=60, env=python_env(), stdin=subprocess.DEVNULL, pass_fds=pass_fds)


def test_an_fd_bind_this_process_does_not_hold_is_warned_of():
    proc = check("-b", "fd://99", "--metrics-bind", "fd://98")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "warning: argv:--bind: fd://99: not an open socket descriptor in check-config's process (a start that does "
        "not inherit it as a listening socket is refused)",
        "warning: argv:--metrics-bind: fd://98: not an open socket descriptor in check-config's process (a start "
        "that does not inherit it as a listening socket is refused)"]
    assert 'bind = ["fd://99"]  # argv:--bind' in proc.stdout.splitlines()


def test_an_fd_bind_held_is_checked_as_a_start_checks_it():
    listening, datagram, unlistened = socket.socket(), socket.socket(type=socket.SOCK_DGRAM), socket.socket()
    with listening, datagram, unlistened:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        fds = [sock.fileno() for sock in (listening, datagram, unlistened)]
        proc = check(*(f"--bind=fd://{fd}" for fd in fds), pass_fds=fds)
        assert proc.returncode == 0, proc.stderr
        assert [line.split(" in check-config's")[0] for line in proc.stderr.splitlines()] == [
            f"warning: argv:--bind: fd://{fds[1]}: not a stream socket (TCP or UNIX)",
            f"warning: argv:--bind: fd://{fds[2]}: the socket is not listening"], proc.stderr
        assert listening.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)  # still ours, still listening
