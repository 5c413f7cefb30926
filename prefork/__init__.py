"""prefork: a preforking HTTP/1.1 server with Node.js http.Server semantics."""

from .emitter import EventEmitter
from .http import HTTPError, ParseError, STATUS_CODES
from .loop import Loop
from .server import IncomingMessage, Server, ServerResponse, Socket, create_server

__version__ = "0.1.0"

__all__ = [
    "EventEmitter", "HTTPError", "IncomingMessage", "Loop", "ParseError", "STATUS_CODES",
    "Server", "ServerResponse", "Socket", "create_server", "__version__",
]

from .client import Agent, ClientRequest, get, global_agent, request  # noqa: E402

__all__ += ["Agent", "ClientRequest", "get", "global_agent", "request"]
