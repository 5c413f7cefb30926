"""The pidfile: written atomically (temporary file + rename), removed only if it is ours."""

import os


def write(path, pid=None):
    pid = os.getpid() if pid is None else pid
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{pid}.tmp")
    with open(tmp, "w") as fh:
        fh.write(f"{pid}\n")
    os.replace(tmp, path)


def remove(path, pid=None):
    pid = os.getpid() if pid is None else pid
    try:
        with open(path) as fh:
            if fh.read().strip() != str(pid):
                return False
        os.unlink(path)
        return True
    except (OSError, ValueError):
        return False
