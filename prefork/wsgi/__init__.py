"""WSGI (PEP 3333) on the event server: ``WSGIAdapter(app).setup(server)``."""

from .adapter import WSGIAdapter, make_adapter
from .streams import ClientDisconnected, FileWrapper, InputStream

__all__ = ["ClientDisconnected", "FileWrapper", "InputStream", "WSGIAdapter", "make_adapter"]
