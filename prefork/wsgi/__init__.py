"""WSGI (PEP 3333) on the event server: ``WSGIAdapter(app).setup(server)``."""

from .adapter import WSGIAdapter, make_adapter
from .pipe import ClientDisconnected
from .streams import FileWrapper, InputStream

__all__ = ["ClientDisconnected", "FileWrapper", "InputStream", "WSGIAdapter", "make_adapter"]
