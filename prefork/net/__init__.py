"""Node's net.Socket: one stream socket class for the server's and the client's connections."""

from .socket import Socket

__all__ = ["Socket"]
