"""ASGI 3.0 applications on the event server: HTTP, WebSocket (wsproto) and lifespan."""

import inspect

from .adapter import ASGIAdapter
from .lifespan import LifespanFailed
from .tls import server_certificate

__all__ = ["ASGIAdapter", "LifespanFailed", "is_asgi3", "make_adapter"]


def make_adapter(app, settings):
    """The adapter for ``app`` configured from the daemon's settings."""
    def get(name, default):
        return getattr(settings, name, default)
    return ASGIAdapter(app, root_path=get("root_path", ""), forwarded_allow_ips=get("forwarded_allow_ips", ()),
                       lifespan=get("lifespan", "auto"), lifespan_timeout=get("graceful_timeout", 30.0),
                       ws_max_size=get("ws_max_size", 16 * 1024 * 1024),
                       ws_ping_interval=get("ws_ping_interval", 20.0), ws_ping_timeout=get("ws_ping_timeout", 20.0),
                       ws_per_message_deflate=get("ws_per_message_deflate", True),
                       server_cert=server_certificate(settings))


def is_asgi3(app):
    """True when ``app`` looks like an ASGI 3 application: ``async (scope, receive, send)``
    (a coroutine function, a partial of one, or an object whose ``__call__`` is one)."""
    if inspect.isclass(app):
        return False
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, "__call__", None))
