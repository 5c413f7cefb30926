"""Finding, importing and recognising the app.

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
  would import the loaded one); a worker
  changes directory, extends ``sys.path``, imports and recognises the app (``load``).
  A ``chdir`` or ``app_dir`` the worker cannot enter or read (its ``user`` may not) is
  an AppError naming the directory and the user, not the import's "no module named".
- Recognition reads signatures, never calls the object: events ``setup(server)`` (plain
  or ``async def``, ``server`` required), a WSGI
  callable ``(environ, start_response)``, an ASGI 3 async callable
  ``(scope, receive, send)`` (or a class of that signature whose instances are awaited,
  through ``__await__``), an ASGI 2 class ``(scope)`` whose instances are async
  callables ``(receive, send)`` (served through ``ASGI2App``). An object may say what it
  is with a ``prefork_interface`` attribute (``"events"``, ``"wsgi"`` or ``"asgi"``).
  A plain function that can be called with no arguments (``create_app(test_config=None)``)
  fits none: it is most likely an app factory, and the error says to write
  ``module:create_app()`` (one whose first parameter is ``server`` is still a setup;
  callable instances and partials are read by their signature as before).
- Anything that cannot be served as asked is an ``AppError`` whose message is one line:
  what was found, and the ``--interface`` value (or APP) to give instead.
"""

import ast
import importlib
import importlib.machinery
import importlib.util
import inspect
import math
import os
import sys

DEFAULT_ATTRIBUTES = ("setup", "application", "app")
KINDS = ("events", "wsgi", "asgi")
ROLES = {"events": "an events setup(server)", "wsgi": "a WSGI application",
         "asgi": "an ASGI application"}


class AppError(Exception):
    """The app cannot be served as configured; the message is one line."""


# -- where the app lives (master and worker) ------------------------------------------------
def search_dirs(chdir="", app_dir="", cwd=None):
    """The directories put first on ``sys.path`` for the app, highest first."""
    base = os.path.abspath(os.path.join(cwd or os.getcwd(), chdir or "."))
    dirs = [os.path.normpath(os.path.join(base, app_dir))] if app_dir else []
    if base not in dirs:
        dirs.append(base)
    return dirs


def split(app):
    """(module, attribute or "") of an APP string; raises ValueError when malformed."""
    module, sep, attribute = app.partition(":")
    names = module.split(".")
    if not module or not all(part.isidentifier() for part in names) or (sep and not attribute):
        directory, _, base = module.rpartition("/")
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
        spec = importlib.machinery.PathFinder.find_spec(parts[0], list(dirs))
    if spec is None:
        spec = importlib.util.find_spec(parts[0])  # a top-level name imports nothing
    for depth in range(1, len(parts)):
        if spec is None:
            return None
        parent = ".".join(parts[:depth])
        loaded = sys.modules.get(parent)
        locations = getattr(loaded, "__path__", None) if loaded else spec.submodule_search_locations
        if locations is None:
            raise ImportError(f"{parent!r} is not a package")
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth + 1]), list(locations))
    return spec


def locate(app, chdir="", app_dir=""):
    """Check that APP's module can be found; raises ValueError with what is wrong."""
    module, attribute = split(app)
    hint = ""
    if module.endswith(".py"):  # a file name, as gunicorn's message also suspects
        hint = f" (a file name: did you mean {module[:-3]}{':' + attribute if attribute else ''}?)"
    dirs = search_dirs(chdir, app_dir)
    _not_shadowed(module.split(".")[0], dirs)
    try:
        spec = find_spec(module, dirs)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"cannot import {module!r}: {exc}{hint}") from None
    if spec is None:
        raise ValueError(f"no module named {module!r}{hint}")


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


def enter(chdir="", app_dir=""):
    """In a worker, before the import: change directory and put the app's directories
    first on ``sys.path``."""
    dirs = search_dirs(chdir, app_dir)
    if chdir:
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


# -- recognising an object -------------------------------------------------------------------
def _arity(signature):
    """(fewest, most) positional arguments a call may pass, or None when a keyword-only
    parameter is required; and the positional parameters' names."""
    fewest, most, names = 0, 0, []
    for param in signature.parameters.values():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            names.append(param.name)
            most += 1
            if param.default is param.empty:
                fewest += 1
        elif param.kind is param.VAR_POSITIONAL:
            most = math.inf
        elif param.kind is param.KEYWORD_ONLY and param.default is param.empty:
            return None, names
    return (fewest, most), names


def _signature(obj):
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _is_async(obj):
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)
    return not inspect.isroutine(obj) and call is not None and inspect.iscoroutinefunction(call)


def _class_call(cls):
    for klass in cls.__mro__[:-1]:
        if "__call__" in vars(klass):
            return vars(klass)["__call__"]
    return None


def _name(obj):
    if inspect.isclass(obj):
        return f"class {obj.__qualname__}"
    if inspect.isroutine(obj):
        kind = "async function" if inspect.iscoroutinefunction(obj) else "function"
        return f"{kind} {getattr(obj, '__qualname__', obj)}"
    return f"{type(obj).__qualname__} instance"


def _shown(signature):
    """The parameters' names as a call shows them: ``(environ, start_response)``."""
    if signature is None:
        return "(?)"
    marks = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return "(" + ", ".join(marks.get(p.kind, "") + p.name for p in signature.parameters.values()) + ")"


def _described(obj, signature):
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return _name(obj) + _shown(signature)
    return f"{_name(obj)} called as {_shown(signature)}"


def detect(obj):
    """(kind, description): kind is "events", "wsgi", "asgi" (ASGI 3), "asgi2", or None
    when the object fits no interface or more than one; description names what was
    found, e.g. ``Flask instance called as (environ, start_response)``."""
    marked = getattr(obj, "prefork_interface", None)
    if isinstance(marked, str) and marked in KINDS:
        return marked, f"{_name(obj)} marked prefork_interface = {marked!r}"
    if inspect.isclass(obj):
        return _detect_class(obj)
    if not callable(obj):
        return None, f"{type(obj).__qualname__} {_short_repr(obj)}, which is not callable"
    signature = _signature(obj)
    if signature is None:
        return None, f"{_name(obj)} whose parameters cannot be read"
    arity, names = _arity(signature)
    found = _described(obj, signature)
    if arity is None:
        return None, found + ", which needs a keyword argument"
    fewest, most = arity
    if _factory_like(obj):
        return None, found + ", which can be called with no arguments"
    fits = lambda n: fewest <= n <= most  # noqa: E731
    if _is_async(obj):  # ASGI 3, or an events setup that awaits something first
        return ("asgi" if fits(3) else "events" if fits(1) and not fits(2) else None), found
    candidates = [kind for kind, n in (("events", 1), ("wsgi", 2)) if fits(n)]
    if fits(3) and names[:3] == ["scope", "receive", "send"]:
        candidates.append("asgi")
    if len(candidates) > 1 and names:
        by_name = {"server": "events", "environ": "wsgi", "scope": "asgi"}.get(names[0])
        candidates = [by_name] if by_name in candidates else candidates
    return (candidates[0] if len(candidates) == 1 else None), found


def _factory_like(obj):
    """A plain function that needs no argument, its first parameter not ``server``: an
    app factory, most likely (``create_app(test_config=None)``)."""
    signature = _signature(obj) if inspect.isfunction(obj) else None
    if signature is None:
        return False
    arity, names = _arity(signature)
    return arity is not None and arity[0] == 0 and arity[1] != math.inf and names[:1] != ["server"]


def _detect_class(cls):
    signature = _signature(cls)
    arity, _ = _arity(signature) if signature is not None else (None, [])
    found = _described(cls, signature)
    if arity is None:
        return None, found
    fewest, most = arity
    call = _class_call(cls)
    if fewest <= 3 <= most and callable(getattr(cls, "__await__", None)):
        return "asgi", found + " with an __await__"  # ASGI 3: cls(scope, receive, send) is awaited
    if fewest <= 1 <= most and call is not None and inspect.iscoroutinefunction(call):
        return "asgi2", found + " with an async __call__"
    if fewest <= 2 <= most and not fewest <= 1:
        return "wsgi", found  # PEP 3333 allows a class: called per request, its instance iterated
    if fewest <= 1 <= most and not fewest <= 2 <= most:
        return "events", found
    return None, found


def _class_takes(cls, n):
    """``cls(...)`` can be called with ``n`` positional arguments."""
    signature = _signature(cls)
    arity = _arity(signature)[0] if signature is not None else None
    return arity is not None and arity[0] <= n <= arity[1]


def _short_repr(obj):
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."


class ASGI2App:
    """An ASGI 2 application (``app(scope)`` returns ``instance(receive, send)``) as an
    ASGI 3 one."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        instance = self.app(scope)
        await instance(receive, send)


# -- loading -----------------------------------------------------------------------------------
def resolve(app, obj, interface):
    """(kind, callable) for ``obj`` named ``app`` under ``interface`` ("auto" or a kind):
    kind is "events", "wsgi" or "asgi"; raises AppError when it cannot be served so."""
    kind, found = detect(obj)
    if not callable(obj):  # no interface serves it, whatever --interface says
        raise AppError(f"{app} is {_article(found)}: APP names the app object (module:ATTRIBUTE), or an "
                       f"app factory to call (module:factory())")
    if interface == "asgi" and kind in (None, "events") and inspect.isclass(obj) and _class_takes(obj, 1):
        kind = "asgi2"  # said outright: a class taking the scope, whatever its __call__ looks like
    if kind is None and inspect.isclass(obj) and _class_takes(obj, 0) and _class_call(obj) is not None:
        # the class itself, where an instance of it is the app (app = App, not App())
        raise AppError(f"{app} is {_article(found)}, which is made with no arguments and whose instances "
                       f"are called: write APP as '{app}()' to have the worker make one and serve it")
    if interface == "auto":
        if kind is None and _factory_like(obj):
            raise AppError(f"{app} is {_article(found)}, as an app factory can: write APP as "
                           f"'{app}()' to have the worker call it and serve what it returns (an events "
                           f"setup takes the server: make it a required parameter, or pass --interface events)")
        if kind is None:
            raise AppError(f"{app} is {_article(found)}, which fits no interface (or more than one): pass "
                           f"--interface events for setup(server), wsgi for (environ, start_response) or "
                           f"asgi for async (scope, receive, send)")
    elif kind is None:
        kind = interface  # said outright, and nothing says otherwise
    elif (shown := "asgi" if kind == "asgi2" else kind) != interface:
        raise AppError(f"{app} is {_article(found)}, {ROLES[shown]}, not {ROLES[interface]}: "
                       f"pass --interface {shown} (or leave interface at auto)")
    if kind == "asgi2":
        return "asgi", ASGI2App(obj)
    return kind, obj


def _made_by(app, dotted, factory, args, kwargs):
    """The app ``factory(*args, **kwargs)`` returns; arguments it does not take, or no
    app returned, are an AppError (an exception inside the factory is its own)."""
    if not callable(factory):
        raise AppError(f"{app}: {dotted} is {_article(_name(factory))}, which cannot be called")
    signature = _signature(factory)
    if signature is not None:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise AppError(f"{app}: {dotted}{_shown(signature)} cannot be called so: {exc}") from None
    made = factory(*args, **kwargs)
    if inspect.iscoroutine(made):  # never awaited: closed, so no warning follows the error
        made.close()
        raise AppError(f"{app}: {dotted} is an async function, and a factory is called, not awaited: "
                       f"make it a plain def that returns the app")
    if made is None:
        raise AppError(f"{app}: the factory returned None, not an app (a missing return?)")
    return made


def _article(found):
    return ("an " if found[:1] in "aeiouAEIOU" else "a ") + found


def app_traceback(exc):
    """The traceback of an exception raised while the app loaded, from the app's first
    frame on: prefork's and importlib's own frames, which say nothing of the app, are
    left out (all of them are kept when no frame is the app's)."""
    import traceback

    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    machinery = os.path.dirname(importlib.__file__) + os.sep
    tb = exc.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename.startswith((here, machinery, "<frozen "))):
        tb = tb.tb_next
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
        for part in dotted.split("."):
            try:
                target = getattr(target, part)
            except AttributeError:
                names = [name for name in dir(target) if not name.startswith("_")]
                from difflib import get_close_matches  # an error's hint only

                close = get_close_matches(part, names, n=1, cutoff=0.6)
                raise AppError(f"module {module_name!r} has no attribute {dotted!r}"
                               + (f" (did you mean {close[0]!r}?)" if close else "")) from None
        if args is not None:
            target = _made_by(app, dotted, target, args, kwargs)
        return resolve(app, target, interface)
    present = [name for name in DEFAULT_ATTRIBUTES if hasattr(module, name)]
    if not present:
        raise AppError(f"module {module_name!r} defines none of {', '.join(DEFAULT_ATTRIBUTES)}: "
                       f"name the app as {module_name}:ATTRIBUTE")
    first_error = None
    for name in present:
        try:
            return resolve(f"{module_name}:{name}", getattr(module, name), interface)
        except AppError as exc:
            first_error = first_error or exc
    raise first_error
