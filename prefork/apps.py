"""Finding and importing the app (recognising the object it names: recognise.py; what a
message says is missing: apphints.py).

Rules:
- APP is ``module`` or ``module:attribute`` (the attribute may be dotted), or, as in
  gunicorn, ``module:factory(ARGS)`` with literal arguments: the worker calls the
  factory after the import and serves what it returns (the master never calls it).
  Without an attribute the module's ``setup``, ``application`` and ``app`` are tried in
  that order, and the first that fits the interface is used (``interface = "auto"``: the
  first that fits any).
- The app's module is searched in ``app_dir`` (relative to ``chdir``), then in ``chdir``
  (the working directory when empty), then on ``sys.path``: as ``gunicorn`` and
  ``uvicorn`` do, the console script finds modules next to where it is started.
- The master only locates the module (``locate``: no package ``__init__`` runs), and
  refuses one whose name a module it has loaded already holds (``socket.py``: a worker
  would import the loaded one), and a file of the app's directories it loaded as the
  standard library's (``json.py`` with ``PYTHONPATH=.``: prefork's own code took it;
  compared by real path, a start through a ``current`` link too; the stdlib's own
  directories are not the app's); a worker
  changes directory, extends ``sys.path``, imports and recognises the app (``load``);
  prefork's own imports after that are made without the app's directories on the path
  (``own_imports``: a project's ``random.py`` or ``queue.py`` is not the stdlib's).
  A ``chdir`` or ``app_dir`` the worker cannot enter or read (its ``user`` may not) is
  an AppError naming the directory and the user, not the import's "no module named".
- With ``chdir`` empty the app's directory is where prefork was started, by its path
  (``started_in``, remembered at the daemon's start: startdir.py): a worker whose working directory
  is no longer the one that path names (removed, or replaced by a deploy) changes to it
  (``follow_start``; the master too, at a reload and a USR2), so a reload serves the
  new copy, and a directory gone for good fails no worker whose app is found elsewhere.
  Started in a directory already removed, only absolute directories are searched: a
  relative (or no) ``chdir`` without an absolute ``app_dir`` is refused, naming it.
- Anything that cannot be served as asked is an ``AppError`` whose message is one line:
  what was found, and the ``--interface`` value (or APP) to give instead.
- An APP with a blank at either end or beside its colon is refused, naming the blank
  (uvicorn refuses both ends; gunicorn a leading one).
"""

import ast
import contextlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys

from .apphints import blank_in, missing, one_folder_down
from .recognise import AppError, made_by, named_for_server, resolve, unmistakable
from . import startdir

DEFAULT_ATTRIBUTES = ("setup", "application", "app")
# where prefork was started (startdir.py), as the daemon's modules name them here
started_in, remember_start, follow_start, start_removed = (startdir.started_in, startdir.remember_start,
                                                            startdir.follow_start, startdir.start_removed)


# -- where the app lives (master and worker): startdir.py ------------------------------------

def search_dirs(chdir="", app_dir="", cwd=None):
    """The directories put first on ``sys.path`` for the app, highest first (started in a
    directory already removed, an absolute ``app_dir`` without ``chdir`` alone)."""
    if cwd is None and not chdir and os.path.isabs(app_dir) and start_removed():
        return [os.path.normpath(app_dir)]
    base = os.path.abspath(os.path.join(cwd or started_in(), chdir or "."))
    dirs = [os.path.normpath(os.path.join(base, app_dir))] if app_dir else []
    if base not in dirs:
        dirs.append(base)
    return dirs


def _start_needed(chdir, app_dir):
    """Started in a directory already removed, the app's directories must be absolute (an
    absolute ``chdir``, or ``app_dir`` without ``chdir``): else a StartRemoved naming it."""
    if not os.path.isabs(chdir) and (chdir or not os.path.isabs(app_dir)) and start_removed():
        raise StartRemoved(f"the working directory prefork was started in, {started_in()}, was removed: "
                           f"start it in an existing directory, or give --chdir (or --app-dir) as an "
                           f"absolute path")


class StartRemoved(AppError, ValueError):
    """The directory prefork was started in was removed, and the app's is relative to it
    (a ValueError for the master's check, an AppError for a worker's)."""


def split(app):
    """(module, attribute or "") of an APP string; raises ValueError when malformed."""
    module, sep, attribute = app.partition(":")
    blank = blank_in(app, module, attribute)
    if blank:  # (uvicorn refuses one at either end, gunicorn one before a name: neither is a name's)
        raise ValueError(f"expected module or module:attribute, got {app!r}: a blank {blank} (write "
                         f"{module.strip()}{sep}{attribute.strip()})")
    names = module.split(".")
    if not module or not all(part.isidentifier() for part in names) or (sep and not attribute):
        directory, _, base = module.rpartition("/")
        if app.endswith(".toml"):
            raise ValueError(f"expected module or module:attribute, got {app!r}: a configuration file "
                             f"(give it with --config {app})")
        if directory and base.removesuffix(".py").isidentifier():
            raise ValueError(f"expected module or module:attribute, got {app!r}: a module is named, not a "
                             f"path (--app-dir {directory} {base.removesuffix('.py')}{sep}{attribute})")
        raise ValueError(f"expected module or module:attribute, got {app!r}")
    if sep:
        parse_attribute(attribute, app)
    return module, attribute


def parse_attribute(attribute, app=None):
    """(dotted name, args, kwargs) of ``attribute``: a dotted name, or a call of one with
    literal arguments (``create_app()``, ``create_app("production", debug=False)``), as
    gunicorn reads it; args is None when nothing is called. Raises ValueError."""
    shown = app if app is not None else attribute
    try:
        expression = ast.parse(attribute.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # e.g. NUL bytes, deep nesting
        expression = None
    args = kwargs = None
    if isinstance(expression, ast.Call):
        try:
            args = [ast.literal_eval(arg) for arg in expression.args]
            kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in expression.keywords}
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):  # {[]: 1} is a TypeError
            raise ValueError(f"the factory's arguments in {shown!r} must be literals (strings, numbers, "
                             f"True/False/None, lists, dicts)") from None
        if None in kwargs:
            raise ValueError(f"the factory's arguments in {shown!r} must be literals (no **mapping)")
        expression = expression.func
    parts = []
    while isinstance(expression, ast.Attribute):
        parts.append(expression.attr)
        expression = expression.value
    if not isinstance(expression, ast.Name):
        raise ValueError(f"expected module or module:attribute, got {shown!r}"
                         + (" (or module:factory(ARGS) with literal arguments)" if "(" in attribute else ""))
    parts.append(expression.id)
    return ".".join(reversed(parts)), args, kwargs


def find_spec(name, dirs=()):
    """Where module ``name`` would be loaded from with ``dirs`` first on ``sys.path``,
    found without running any of its packages' ``__init__`` (``importlib.util.find_spec``
    imports the parents): the master checks the app on every load but never imports it."""
    parts = name.split(".")
    spec = None
    if parts[0] not in sys.modules:
        # the worker's path: ``dirs`` first, then the rest (a namespace package's portions
        # in both are joined, as the worker's import joins them)
        path = list(dirs) + [entry for entry in sys.path if entry not in dirs]
        spec = importlib.machinery.PathFinder.find_spec(parts[0], path)
    if spec is None:
        spec = importlib.util.find_spec(parts[0])  # a top-level name imports nothing
    for depth in range(1, len(parts)):
        if spec is None:
            return None
        parent = ".".join(parts[:depth])
        loaded = sys.modules.get(parent)
        locations = getattr(loaded, "__path__", None) if loaded else spec.submodule_search_locations
        if locations is None:
            raise NotAPackage(f"{parent!r} is not a package", name=parent)
        spec = _find_in(".".join(parts[:depth + 1]), list(locations))
    return spec


class NotAPackage(ImportError):
    """A dotted module name whose part ``name`` is a plain module: what follows it may be
    an attribute, written after a colon (``app.app`` for ``app:app``)."""


def _find_in(name, locations):
    """The spec of submodule ``name`` in its parent's ``locations``, its parent not
    imported: ``PathFinder`` makes a namespace package's locations from the parent's
    loaded module (a KeyError without it), so each location's finder is asked here,
    and the portions of a namespace package found are joined."""
    portions = []
    for location in locations:
        finder = sys.path_importer_cache.get(location)
        for hook in sys.path_hooks if finder is None else ():
            try:
                finder = hook(location)
                break
            except ImportError:
                continue
        spec = finder.find_spec(name) if finder is not None and hasattr(finder, "find_spec") else None
        if spec is not None and spec.loader is not None:
            return spec
        portions.extend(spec.submodule_search_locations or () if spec is not None else ())
    if not portions:
        return None
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = portions
    return spec


def locate(app, chdir="", app_dir=""):
    """Check that APP's module can be found; raises ValueError with what is wrong."""
    module, attribute = split(app)
    hint = ""
    if app.endswith(".toml"):  # the configuration file given where the app goes
        hint = f" ({app} is a configuration file: give it with --config {app})"
    elif module.endswith(".conf.py"):  # gunicorn's configuration file
        hint = (f" ({module} is a gunicorn configuration file? prefork reads its settings from a TOML "
                "file given with --config; docs/gunicorn.md maps gunicorn's names to prefork's)")
    elif module.endswith(".py"):  # a file name, as gunicorn's message also suspects
        hint = f" (a file name: did you mean {module[:-3]}{':' + attribute if attribute else ''}?)"
    _start_needed(chdir, app_dir)
    dirs = search_dirs(chdir, app_dir)
    _not_shadowed(module.split(".")[0], dirs)
    stdlib_taken(dirs)
    try:
        spec = find_spec(module, dirs)
    except NotAPackage as exc:
        if not hint and not attribute:  # (module.attribute, as uvicorn refuses it too)
            hint = f" (an attribute is named after a colon: did you mean {exc.name}:{module[len(exc.name) + 1:]}?)"
        raise ValueError(f"cannot import {module!r}: {exc}{hint}") from None
    except (ImportError, ValueError) as exc:
        raise ValueError(f"cannot import {module!r}: {exc}{hint}") from None
    if spec is None:
        raise ValueError(f"no module named {module!r}{hint or one_folder_down(module, chdir, app_dir, dirs[-1])}")


def _not_shadowed(top, dirs):
    """A module of the app's directories named as one this process has loaded already
    (``socket.py``): a worker, forked from it, would import the loaded one instead, and
    fail on a missing attribute. Raises ValueError naming the file."""
    loaded = sys.modules.get(top)
    if loaded is None:
        return
    try:
        spec = importlib.machinery.PathFinder.find_spec(top, list(dirs))
    except (ImportError, ValueError):
        return
    origin = spec.origin if spec is not None else None
    loaded_file = getattr(loaded, "__file__", None)
    if origin is None or not os.path.exists(origin) or (
            loaded_file and os.path.exists(loaded_file) and os.path.samefile(origin, loaded_file)):
        return  # (the same file, through a symbolic link too)
    whose = "the standard library's" if top in sys.stdlib_module_names else "an installed package's"
    raise ValueError(f"{origin} cannot be imported as {top!r}: that name is {whose}, loaded before the app: "
                     f"rename the file (or package)")


def stdlib_taken(dirs):
    """A file of the app's directories (or the one prefork was started in) that this process loaded
    as a module of the standard library's: ``PYTHONPATH=.`` puts the working directory
    first on ``sys.path`` (``python -m prefork`` moves it last: ``__main__``), so prefork's
    own ``import json`` took a project's ``json.py``, and every worker, forked from it,
    would fail in prefork's code.
    Raises ValueError naming the file."""
    places = {_real(directory) for directory in (*dirs, started_in())} - _stdlib_dirs()
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) if name in sys.stdlib_module_names else None
        if not isinstance(origin, str):
            continue
        folder = os.path.dirname(_real(origin))
        if os.path.basename(origin).startswith("__init__."):
            folder = os.path.dirname(folder)  # (a package: its parent holds it)
        if folder in places:
            raise ValueError(f"{origin} was imported as the standard library's {name!r}: its directory is "
                             f"first on the Python path (PYTHONPATH puts it there): rename the file (or "
                             f"package), or take the directory off PYTHONPATH (prefork finds the app there itself)")


def _real(path):
    """A directory's or file's real path (symbolic links resolved: a release's ``current``
    link and the file it holds compare equal), case-normalised."""
    try:
        return os.path.normcase(os.path.realpath(path))
    except OSError:  # (a relative path, the working directory removed)
        return os.path.normcase(path)


def _stdlib_dirs():
    """The standard library's own directories (pure and platform modules, ``lib-dynload``):
    started in one of them, its modules are the stdlib's, not a project's."""
    import sysconfig

    found = {os.path.dirname(os.__file__)}
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_path(key)
        if path:
            found.update((path, os.path.join(path, "lib-dynload")))
    found.update(entry for entry in sys.path if os.path.basename(entry) == "lib-dynload")
    return {_real(path) for path in found}


def enter(chdir="", app_dir=""):
    """In a worker, before the import: change directory and put the app's directories
    first on ``sys.path``."""
    _start_needed(chdir, app_dir)
    dirs = search_dirs(chdir, app_dir)
    if not chdir:
        follow_start()
    else:
        try:
            os.chdir(dirs[-1])
        except OSError as exc:
            raise AppError(f"chdir {dirs[-1]}: cannot enter it{_as_whom()}: {_words(exc)}") from None
    if app_dir:  # an import would only say "no module named", which the master found
        try:
            os.scandir(dirs[0]).close()
        except OSError as exc:
            raise AppError(f"app_dir {dirs[0]}: cannot read it{_as_whom()}: {_words(exc)}") from None
    for directory in reversed(dirs):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)
    _app_dirs[:] = dirs


_app_dirs = []  # the directories enter() put first on sys.path


@contextlib.contextmanager
def own_imports():
    """prefork's own imports in a worker whose app's directories are first on
    ``sys.path`` (a WSGI or ASGI adapter's, after the app's import): made with those
    directories off the path, so a module of the app named as one of the standard
    library's (``random.py``, ``queue.py``) is not taken for it."""
    saved = list(sys.path)
    sys.path[:] = [entry for entry in saved if entry not in _app_dirs]
    try:
        yield
    finally:
        sys.path[:] = saved


def _as_whom():
    """`` as user NAME (uid N)`` for a worker that dropped its privileges, else empty."""
    uid = os.geteuid()
    if uid == 0:
        return ""
    try:
        import pwd

        return f" as user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f" as uid {uid}"


def _words(exc):
    return (exc.strerror or str(exc)).lower()


def app_traceback(exc):
    """The traceback of an exception raised while the app loaded, from the app's first
    frame on: prefork's and importlib's own frames, which say nothing of the app, are
    left out (all of them are kept when no frame is the app's, but for a SyntaxError in
    the app's source, which names its file and line itself)."""
    import traceback

    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    machinery = os.path.dirname(importlib.__file__) + os.sep
    tb = exc.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename.startswith((here, machinery, "<frozen "))):
        tb = tb.tb_next
    if tb is None and isinstance(exc, SyntaxError) and exc.filename:
        return "".join(traceback.format_exception_only(type(exc), exc))
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def load(app, interface="auto", chdir="", app_dir=""):
    """(kind, callable) for APP: import its module in this process and recognise the
    object. Raises AppError (one line) or the import's own exception."""
    enter(chdir, app_dir)
    module_name, attribute = split(app)
    module = importlib.import_module(module_name)
    if attribute:
        dotted, args, kwargs = parse_attribute(attribute)
        target = module
        for depth, part in enumerate(dotted.split(".")):
            try:
                target = getattr(target, part)
            except AttributeError:
                raise AppError(missing(module_name, attribute, dotted, depth, target)) from None
        if args is not None:
            target = made_by(app, dotted, target, args, kwargs)
        return resolve(app, target, interface)
    present = [name for name in DEFAULT_ATTRIBUTES if hasattr(module, name)]
    if not present:
        raise AppError(f"module {module_name!r} defines none of {', '.join(DEFAULT_ATTRIBUTES)}: "
                       f"name the app as {module_name}:ATTRIBUTE")
    first_error = passed_over = None
    for name in present:
        try:
            found = resolve(f"{module_name}:{name}", getattr(module, name), interface)
        except AppError as exc:
            first_error = first_error or exc
            continue
        if name == "setup" and found[0] == "events" and interface == "auto" and \
                not named_for_server(found[1]):
            # a one-argument helper not named for the server (Flask's setup(app)): an
            # app beside it that is one unmistakably is the one to serve
            passed_over = found
            continue
        if passed_over is not None and not unmistakable(found[1]):
            return passed_over
        return found
    if passed_over is not None:
        return passed_over
    raise first_error
