"""Real peers from Debian's packages for the tests that need them (Redis, Prometheus, ...):
installed on first use when missing and the tests run as root; the caller skips with the
reason when that is impossible."""

import fcntl
import os
import shutil
import subprocess
import tempfile


def _found(binary):
    return shutil.which(binary) or (binary if os.path.isabs(binary) and os.access(binary, os.X_OK) else None)


def ensure(binary, package, timeout=900):
    """The path of ``binary``, installing ``package`` first if needed; (None, reason) style:
    returns (path, None) or (None, why)."""
    path = _found(binary)
    if path is not None:
        return path, None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, f"{binary} is not installed (Debian package {package}) and this is not a root apt system"
    # one install at a time across the suite's processes (pytest -n): apt holds its own
    # lock and would refuse the second; the one that waited finds the binary installed
    with open(os.path.join(tempfile.gettempdir(), "prefork-tests-apt.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _install(binary, package, timeout)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _install(binary, package, timeout):
    path = _found(binary)
    if path is not None:
        return path, None
    install = ["apt-get", "install", "-y", "-qq", package]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = subprocess.run(install, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=timeout, env=env)
        result = subprocess.run(install, capture_output=True, text=True, timeout=timeout, env=env)
    path = _found(binary)
    if path is None:
        return None, f"apt-get install {package} failed: {result.stderr.strip()[-300:]}"
    return path, None
