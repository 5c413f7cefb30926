"""Node's http.Server on the loop and the HTTP core."""

from .request import IncomingMessage
from .response import ServerResponse
from .server import Server, create_server
from ..net import Socket

__all__ = ["IncomingMessage", "Server", "ServerResponse", "Socket", "create_server"]
