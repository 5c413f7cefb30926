"""The protocol core: bytes in, events out; events in, bytes out. No sockets here."""

from .errors import HTTPError, ParseError, PrematureClose, request_timeout_error
from .parser import RequestParser, ResponseParser
from .serialize import STATUS_CODES, DateCache

__all__ = ["HTTPError", "ParseError", "PrematureClose", "request_timeout_error", "RequestParser",
           "ResponseParser", "STATUS_CODES", "DateCache"]
