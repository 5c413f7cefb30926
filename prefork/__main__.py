"""``python -m prefork``: the console script's ``main``, the working directory last on the
Python path rather than first.

Rules:
- ``python -m`` puts the working directory first on ``sys.path``; it is moved to the end
  before prefork's own modules are imported, so a project's ``logging.py``, ``signal.py``
  or ``json.py`` is never what prefork's ``import logging`` loads (the master died in
  prefork's code), while a module there is still found with ``--chdir`` (README: the
  start directory is searched by ``python -m prefork``), after the standard library and
  the installed packages. Without ``--chdir`` the app is found as before: a worker puts
  the app's directories (the start directory, ``chdir``, ``app_dir``) first on the path
  itself (``apps.enter``). Only that entry moves: there is none under ``-P``
  (PYTHONSAFEPATH), and a ``PYTHONPATH`` naming the directory stays the user's choice.
"""

import os
import sys


def _start_directory_last():
    if getattr(sys.flags, "safe_path", False) or not sys.path or not sys.path[0]:
        return
    try:
        if not os.path.samefile(sys.path[0], os.getcwd()):
            return
    except OSError:  # (the working directory removed: nothing of it is imported)
        return
    start = sys.path.pop(0)
    if start not in sys.path:
        sys.path.append(start)


_start_directory_last()

from .cli import main  # noqa: E402 (imported once the path is set)

main()
