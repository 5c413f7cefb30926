"""WSGI (PEP 3333) on the event server: ``WSGIAdapter(app).setup(server)``."""

from .adapter import WSGIAdapter, make_adapter
from .streams import FileWrapper, InputStream

__all__ = ["FileWrapper", "InputStream", "WSGIAdapter", "make_adapter"]
