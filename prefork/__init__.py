"""prefork: a preforking HTTP/1.1 server with Node.js http.Server semantics.

Names are imported on first use, so that importing ``prefork`` (as the master does)
loads nothing but what is asked for: the master never imports the client or an app.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "EventEmitter": "emitter", "HTTPError": "http", "ParseError": "http", "PrematureClose": "http",
    "STATUS_CODES": "http",
    "Loop": "loop", "IncomingMessage": "server", "Server": "server", "ServerResponse": "server",
    "create_server": "server", "Socket": "net", "Agent": "client", "ClientRequest": "client",
    "get": "client", "global_agent": "client", "request": "client", "new_event_loop": "runtime",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'prefork' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
