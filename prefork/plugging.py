"""The app a worker serves, attached to its server by its interface: an events
``setup(server)`` is called with it, a WSGI or ASGI callable gets its adapter.

Rules:
- With no app configured, the demo is served (events, or WSGI when asked for).
- A setting only another interface uses, given a value, is a warning at the worker's
  start (the master never imports the app, so it cannot tell).
- An async ``setup(server)`` is awaited before the worker says it is ready; a setup
  that returns a callable was a factory named without its call (or, returning an async
  callable, an ASGI 2 ``app(scope)``): an ``AppError`` naming both fixes.
- The WSGI and ASGI support modules are imported only for an app that needs them, with
  the app's directories off ``sys.path`` (``apps.own_imports``); but a worker that is
  about to drop its privileges imports them first (``preload``), as the master's user,
  for each interface its setting allows (the WebSocket session too, wsproto installed),
  and the codecs it names (``CODECS``):
  the user may not read the interpreter's files, and prefork's own code is not the
  app's. The app itself is still imported as the user, as gunicorn imports it.
- ``keep_alive_timeout = 0`` turns keep-alive off in the daemon (the server's
  ``no_keep_alive``): every response says ``Connection: close`` and its connection
  closes after it, as gunicorn's, uvicorn's and nginx's 0 do (the server's own option,
  Node's, would keep an idle connection open with no timer at all).
- The master's SIGABRT (no heartbeat for ``timeout``: a stuck call) that finds a WSGI
  app's call running on the loop's thread (``threads = 1``) raises ``CallAborted`` into it,
  as gunicorn's sync worker raises SystemExit: the adapter answers its request 500, and
  the worker dies of SIGABRT at the loop's next turn (faulthandler has dumped the stacks
  first; the master's SIGKILL 2 s later ends an app that swallows it). Anywhere else the
  worker dies of SIGABRT at once.
"""

import codecs
import importlib
import inspect
import logging
import os
import signal
import socket
import sys

from . import apps, logs
from .process import drops_privileges
from .recognise import ROLES
from .settings import BY_NAME

log = logging.getLogger("prefork.worker")


def load_app(settings):
    """(kind, app): kind is "events" (app is setup(server)), "wsgi" or "asgi" (app is the
    callable to adapt). Raises apps.AppError with a one-line message when the object
    cannot be served as configured."""
    if not settings.app:
        if settings.interface == "wsgi":
            from .demo import wsgi_app
            return "wsgi", wsgi_app
        from .demo import setup
        return "events", setup
    return apps.load(settings.app, settings.interface, settings.chdir, settings.app_dir)


# settings only some interfaces use: set for an app of another kind, they do nothing
UNUSED_BY = {
    "events": ("threads", "root_path", "lifespan", "wsgi_body_spool", "max_body_size", "ws_max_size",
               "ws_ping_interval", "ws_ping_timeout", "ws_per_message_deflate"),
    "wsgi": ("lifespan", "ws_max_size", "ws_ping_interval", "ws_ping_timeout", "ws_per_message_deflate"),
    "asgi": ("wsgi_body_spool", "max_body_size", "threads"),
}
UNUSED_WHY = {("asgi", "threads"): " (it runs on the worker's event loop: run blocking calls with "
                                    "loop.run_in_executor)",
              ("asgi", "max_body_size"): " (no request body is refused for its size: the app reads the "
                                         "body as it streams, and bounds it itself)",
              ("events", "max_body_size"): " (no request body is refused for its size: bound it with "
                                           "req.body(limit=...))"}
INTERFACE_NAMES = {"events": "an events setup(server)", "wsgi": "a WSGI app", "asgi": "an ASGI app"}


def unused_settings(kind, settings):
    """``SOURCE: has no effect on ...`` for each setting given a value that ``kind``'s
    interface does not use (the master cannot tell: it never imports the app); and for
    a ``forwarded_allow_ips`` that leaves out the peers of a ``unix:`` bind."""
    sources = getattr(settings, "sources", None) or {}
    found = []
    for name in UNUSED_BY.get(kind, ()):
        source = sources.get(name, "default")
        if source != "default" and getattr(settings, name) != BY_NAME[name].default:
            found.append(f"{source}: has no effect on {INTERFACE_NAMES[kind]}{UNUSED_WHY.get((kind, name), '')}")
    allowed = {part.strip() for part in settings.forwarded_allow_ips}
    if kind in ("wsgi", "asgi") and not {"unix", "*"} & allowed and \
            any(_unix_listener(str(bind)) for bind in settings.bind):
        found.append(f"{sources.get('forwarded_allow_ips', 'default')}: the UNIX socket's peers are not "
                     f"among them, so their X-Forwarded-For and X-Forwarded-Proto are ignored (gunicorn "
                     f"trusts any UNIX-socket peer): add 'unix' to trust a proxy on this host")
    return found


def _unix_listener(bind):
    """Whether a bind is a UNIX socket: ``unix:PATH``, or ``fd://N`` naming one."""
    if bind.startswith("unix:"):
        return True
    if bind.startswith("fd://") and bind[5:].isdigit():
        try:
            fd = os.dup(int(bind[5:]))
        except OSError:  # (not open here: --check-config in another process)
            return False
        try:
            with socket.socket(fileno=fd) as sock:
                return sock.family == socket.AF_UNIX
        except OSError:  # (not a socket: the duplicate is closed)
            os.close(fd)
    return False


# what a worker about to drop its privileges imports first, by its interface setting
PRELOADS = {"events": (), "wsgi": ("wsgi", "wsgi.threads"), "asgi": ("asgi", "asgi.websocket")}
PRELOADS["auto"] = PRELOADS["wsgi"] + PRELOADS["asgi"]
# the codecs prefork's own code looks up by name: Node's ucs2/utf16le (a response's or a
# socket's encoding, any interface), and idna (wsproto decodes a WebSocket handshake's Host)
CODECS = ("utf-16-le", "idna")


def preload(settings):
    """Import, as the master's user, prefork's modules the app's interface may need (and
    the error hints'), before the worker drops its privileges: the user may not be able to
    read the interpreter's files (Python under /root), and a module of prefork's found
    missing then would be blamed on the app. One that cannot be imported (wsproto not
    installed) is left for ``plug_in`` or the first WebSocket to report, as without a user.
    Nothing is imported for a worker that keeps its user (its modules are loaded lazily),
    a ``group`` alone included: root reads everything."""
    if not (settings.user and drops_privileges(settings)):
        return
    names = PRELOADS.get(settings.interface, PRELOADS["auto"]) if settings.app else ("demo",)
    for name in names:
        try:
            importlib.import_module(f".{name}", __package__)
        except ImportError:
            pass
    for codec in CODECS:
        codecs.lookup(codec)
    importlib.import_module("difflib")  # (an AppError's hint: "did you mean ...?")


def plug_in(kind, app, settings, server, wait=None):
    """Attach the app to the worker's server, by its kind. ``wait(awaitable)`` runs an
    ``async def setup(server)`` to its result (default: on the server's loop)."""
    for warning in unused_settings(kind, settings):
        log.warning("%s", warning)
    server.no_keep_alive = not settings.keep_alive_timeout  # (module rules)
    if kind == "events":
        ready = app(server)
        if inspect.isawaitable(ready):  # async def setup(server): awaited before the worker is ready
            ready = wait(ready) if wait is not None else server.loop.run_until_complete(ready)
        if ready is not None and callable(ready):  # a factory taken for a setup(server)
            call = ready if inspect.isroutine(ready) else getattr(ready, "__call__", None)
            asgi2 = inspect.iscoroutinefunction(call)  # an ASGI 2 app(scope) returns an async (receive, send)
            raise apps.AppError(f"{settings.app} was called as an events setup(server) and returned "
                                f"{_what(ready)}, an app: if it is an app factory, "
                                f"write APP as '{settings.app}()'"
                                + ("; if it is an ASGI 2 app(scope), pass --interface asgi" if asgi2 else ""))
        return None
    with apps.own_imports():  # (the app's own modules do not stand in for the stdlib's here)
        try:
            adapters = importlib.import_module(f".{kind}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{kind}":
                raise
            raise apps.AppError(f"{settings.app} is {ROLES[kind]}, and this prefork has no "
                                f"{kind.upper()} support (no {exc.name} module)") from None
        adapter = adapters.make_adapter(app, settings)
        adapter.setup(server)
    return adapter


def _what(value):
    """A returned callable in words: ``a function (name)``, ``a Flask instance``."""
    if inspect.isroutine(value):
        return f"a function ({value.__qualname__})"
    if inspect.isclass(value):
        return f"a class ({value.__qualname__})"
    return f"a {type(value).__qualname__} instance"


def abort(access, frame, loop, timeout):
    """The worker's SIGABRT handler's work (module rules): write the access log buffer
    (``access``: an AccessLog or None) and the output, then die of SIGABRT, or first
    raise ``CallAborted`` (wsgi/body.py) into the WSGI call ``frame`` (the interrupted
    frame) runs in."""
    if access is not None:
        access.flush()
    logs.flush_output()
    response = getattr(sys.modules.get(f"{__package__}.wsgi.response"), "__file__", None)
    body = sys.modules.get(f"{__package__}.wsgi.body")
    while frame is not None and response is not None:
        if frame.f_code.co_filename == response:  # (start_call or pump: the app's code under it)
            loop.call_soon(abort, access, None, loop, timeout)  # after the adapter's 500
            raise body.CallAborted(f"the worker was aborted: this request ran longer than timeout ({timeout:g} s) "
                                   f"and sent no heartbeat; it is answered 500 and the worker exits")
        frame = frame.f_back
    signal.signal(signal.SIGABRT, signal.SIG_DFL)
    os.abort()
