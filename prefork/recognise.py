"""Recognising what an app object is (events setup, WSGI, ASGI 3 or 2) and serving it
as ``--interface`` asks (apps.py finds and imports it).

Rules:
- Recognition reads signatures, never calls the object: events ``setup(server)`` (plain
  or ``async def``, ``server`` required), a WSGI
  callable ``(environ, start_response)``, an ASGI 3 async callable
  ``(scope, receive, send)`` (or a class of that signature whose instances are awaited,
  through ``__await__``), an ASGI 2 class ``(scope)`` whose instances are async
  callables ``(receive, send)`` (served through ``ASGI2App``; so is a plain callable of
  one parameter named ``scope``, or of one not named ``server`` when ``--interface
  asgi`` says so: uvicorn's ``asgi2`` ``app(scope)`` returning an async ``(receive,
  send)``; ``--interface events`` serves such a ``setup(scope)`` as an events setup). An object may say what it
  is with a ``prefork_interface`` attribute (``"events"``, ``"wsgi"`` or ``"asgi"``).
  A plain function that can be called with no arguments (``create_app(test_config=None)``)
  fits none: it is most likely an app factory, and the error says to write
  ``module:create_app()`` (one whose first parameter is ``server`` is still a setup;
  callable instances and partials are read by their signature as before). Nor does a
  plain function of two parameters named as Node's request listener's, ``(req, res)``:
  the error says to name a ``setup(server)`` that registers it.
- ``--interface`` trusts an object recognised as no kind only when its signature, read,
  can take the arguments that interface passes (a factory named without its call, said
  to be WSGI, is refused: it would fail every request with a TypeError). That signature
  is the one the object is called with: a decorator's wrapper's own, not the wrapped
  function's that ``functools.wraps`` shows; and a wrapper recognised by its wrapped
  function as an events setup (a plain one, its parameter not named ``server``) is served
  as WSGI when said so and its own signature can take the call (werkzeug's
  ``@Request.application``, a ``(request)`` function wrapped in ``(*args)``).
  Detection reads a wrapper by its own signature when that names positional parameters,
  and a ``(*args, **kwargs)`` wrapper (keyword-only ones too) by the function it wraps.
- Anything that cannot be served as asked is an ``AppError`` whose message is one line:
  what was found, and the ``--interface`` value (or APP) to give instead.
"""

import inspect
import math

KINDS = ("events", "wsgi", "asgi")
ROLES = {"events": "an events setup(server)", "wsgi": "a WSGI application",
         "asgi": "an ASGI application"}


class AppError(Exception):
    """The app cannot be served as configured; the message is one line."""


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
    """The signature detection reads: a decorator's wrapper's own when it names its
    parameters, else (a ``(*args, **kwargs)`` wrapper) the wrapped function's."""
    if getattr(obj, "__wrapped__", None) is not None:
        own = _own_signature(obj)
        if own is not None and any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                                   for p in own.parameters.values()):
            return own
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _own_signature(obj):
    """The signature ``obj`` is called with: a decorator's wrapper's own, not the wrapped
    function's that ``functools.wraps`` shows (``_signature``, what detection reads)."""
    try:
        return inspect.signature(obj, follow_wrapped=False)
    except (TypeError, ValueError):
        return None


def _own_arity_takes(obj, interface):
    signature = _own_signature(obj)
    arity = _arity(signature)[0] if signature is not None else None
    return arity is not None and arity[0] <= CALLED_WITH[interface] <= arity[1]


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
    shown = []
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.KEYWORD_ONLY and not any(p.startswith("*") for p in shown):
            shown.append("*")  # the keyword-only ones follow a bare * (or *args)
        shown.append(marks.get(param.kind, "") + param.name)
    return "(" + ", ".join(shown) + ")"


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
    if _listener_like(obj):
        return None, found
    fits = lambda n: fewest <= n <= most  # noqa: E731
    if _is_async(obj):  # ASGI 3, or an events setup that awaits something first
        return ("asgi" if fits(3) else "events" if fits(1) and not fits(2) else None), found
    candidates = [kind for kind, n in (("events", 1), ("wsgi", 2)) if fits(n)]
    if fits(3) and names[:3] == ["scope", "receive", "send"]:
        candidates.append("asgi")
    if len(candidates) > 1 and names:
        by_name = {"server": "events", "environ": "wsgi", "scope": "asgi"}.get(names[0])
        candidates = [by_name] if by_name in candidates else candidates
    if candidates == ["events"] and names[:1] == ["scope"]:
        return "asgi2", found  # ASGI 2: app(scope) returns an async (receive, send)
    return (candidates[0] if len(candidates) == 1 else None), found


def named_for_server(obj):
    """``obj``'s first positional parameter is named ``server`` (an events setup says
    so; a module's ``setup(app)`` helper does not)."""
    signature = _signature(obj)
    return signature is not None and _arity(signature)[1][:1] == ["server"]


def unmistakable(obj):
    """``obj`` is an app by more than its count of parameters: an object (a Flask or
    Django app), a coroutine function, or a function whose first parameter is named
    ``environ`` or ``scope``; a plain ``def app(req, res)`` is not (an events handler
    takes two arguments too)."""
    if not inspect.isfunction(obj) or _is_async(obj):
        return True
    signature = _signature(obj)
    return signature is not None and _arity(signature)[1][:1] in (["environ"], ["scope"])


def _factory_like(obj):
    """A plain function that needs no argument, its first parameter not ``server``: an
    app factory, most likely (``create_app(test_config=None)``)."""
    signature = _signature(obj) if inspect.isfunction(obj) else None
    if signature is None:
        return False
    arity, names = _arity(signature)
    return arity is not None and arity[0] == 0 and arity[1] != math.inf and names[:1] != ["server"]


LISTENER_NAMES = ({"req", "request"}, {"res", "resp", "response"})


def _listener_like(obj):
    """A plain function (or ``async def``) of two parameters named as Node's request
    listener's, ``(req, res)``: the events API's handler, named where its setup belongs
    (a WSGI app's are ``(environ, start_response)``)."""
    signature = _signature(obj) if inspect.isfunction(obj) else None
    if signature is None:
        return False
    arity, names = _arity(signature)
    return arity == (2, 2) and names[0] in LISTENER_NAMES[0] and names[1] in LISTENER_NAMES[1]


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


def _takes_one(obj):
    """``obj(...)`` takes exactly one positional argument: ``app(scope)``."""
    signature = _signature(obj)
    arity = _arity(signature)[0] if signature is not None else None
    return arity is not None and arity[0] <= 1 and arity[1] == 1


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


def resolve(app, obj, interface):
    """(kind, callable) for ``obj`` named ``app`` under ``interface`` ("auto" or a kind):
    kind is "events", "wsgi" or "asgi"; raises AppError when it cannot be served so."""
    kind, found = detect(obj)
    if not callable(obj):  # no interface serves it, whatever --interface says
        raise AppError(f"{app} is {_article(found)}: APP names the app object (module:ATTRIBUTE), or an "
                       f"app factory to call (module:factory())")
    if interface == "asgi" and kind in (None, "events") and inspect.isclass(obj) and _class_takes(obj, 1):
        kind = "asgi2"  # said outright: a class taking the scope, whatever its __call__ looks like
    elif interface == "asgi" and kind == "events" and not _is_async(obj) and _takes_one(obj) \
            and not named_for_server(obj):
        kind = "asgi2"  # said outright: a plain app(scope) that returns an async (receive, send)
    elif interface == "events" and kind == "asgi2" and not inspect.isclass(obj) and not _is_async(obj) \
            and _takes_one(obj) and getattr(obj, "prefork_interface", None) is None:
        kind = "events"  # said outright: a setup whose one parameter is named scope, not an ASGI 2 app
    if kind is None and inspect.isclass(obj) and _class_takes(obj, 0) and _class_call(obj) is not None:
        # the class itself, where an instance of it is the app (app = App, not App())
        raise AppError(f"{app} is {_article(found)}, which is made with no arguments and whose instances "
                       f"are called: write APP as '{app}()' to have the worker make one and serve it")
    if interface == "auto":
        if kind is None and _listener_like(obj):
            raise AppError(f"{app} is {_article(found)}, a request listener as create_server takes, called with "
                           f"each request: APP names the app, here a setup(server) that registers it "
                           f"(def setup(server): server.on(\"request\", {obj.__name__})); pass --interface wsgi "
                           f"if it is a WSGI app")
        if kind is None and _factory_like(obj):
            raise AppError(f"{app} is {_article(found)}, as an app factory can: write APP as "
                           f"'{app}()' to have the worker call it and serve what it returns (an events "
                           f"setup takes the server: make it a required parameter, or pass --interface events)")
        if kind is None:
            raise AppError(f"{app} is {_article(found)}, which fits no interface (or more than one): pass "
                           f"--interface events for setup(server), wsgi for (environ, start_response) or "
                           f"asgi for async (scope, receive, send)")
    elif kind is None:
        _callable_as(app, obj, interface)
        kind = interface  # said outright, and nothing says otherwise
    elif kind == "events" and interface == "wsgi" and getattr(obj, "__wrapped__", None) is not None \
            and not _is_async(obj) and not named_for_server(obj) and _own_arity_takes(obj, interface):
        kind = interface  # said outright for a plain wrapper of a (request) function (@Request.application)
    elif (shown := "asgi" if kind == "asgi2" else kind) != interface:
        raise AppError(f"{app} is {_article(found)}, {ROLES[shown]}, not {ROLES[interface]}: "
                       f"pass --interface {shown} (or leave interface at auto)")
    if kind == "asgi2":
        return "asgi", ASGI2App(obj)
    return kind, obj


CALLED_WITH = {"events": 1, "wsgi": 2, "asgi": 3}  # the positional arguments each interface passes


def _callable_as(app, obj, interface):
    """Raise AppError when ``obj``'s signature, read, says it cannot be called as
    ``interface`` calls it (a factory named without its call, ``--interface wsgi``): it
    would fail every request with a TypeError."""
    signature = _own_signature(obj)
    if signature is None:
        return
    n = CALLED_WITH[interface]
    arity = _arity(signature)[0]
    if arity is not None and arity[0] <= n <= arity[1]:
        return
    takes = "which needs a keyword argument" if arity is None else \
        f"which cannot be called with the {n} argument{'s' if n > 1 else ''} {ROLES[interface]} takes"
    made = _factory_like(obj) or (inspect.isclass(obj) and _class_takes(obj, 0))
    raise AppError(f"{app} is {_article(_described(obj, signature))}, {takes}"
                   + (f": if it makes the app, write APP as '{app}()' to have the worker call it and serve "
                      f"what it returns" if made else ""))


def made_by(app, dotted, factory, args, kwargs):
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
