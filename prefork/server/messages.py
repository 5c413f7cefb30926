"""Node's request and response objects (kept as an import path; see request.py and response.py)."""

from .request import IncomingMessage
from .response import ServerResponse

__all__ = ["IncomingMessage", "ServerResponse"]
