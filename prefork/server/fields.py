"""The request head's field lists beyond ``raw_headers`` and ``headers`` (IncomingMessage's).

Rules:
- ``headers_distinct`` is Node's ``headersDistinct``: the fields of the ``headers`` map
  only (``max_headers_count`` cuts it as Node's), made at the first read.
- ``all_raw_headers`` is the raw list of every header line as received, also those past
  ``max_headers_count``'s cut of ``raw_headers`` (the ASGI scope's ``headers`` and the
  WebSocket handshake read it, as uvicorn passes every line). The connection sets it
  only on a head whose list was cut (in the instance's ``__dict__``); any other request
  reads ``raw_headers`` through it (a non-data descriptor: nothing is stored for it).
"""

from ..http.headers import distinct, node_header_map_pairs


class WholeList:
    """``all_raw_headers``: every header line, name and value alternating (the
    request's own list when one was set, else ``raw_headers``, which is then whole)."""

    def __get__(self, req, owner=None):
        return self if req is None else req.raw_headers


class RequestFields:
    """A mixin of IncomingMessage (its ``__dict__`` holds what is set here)."""

    __slots__ = ()

    all_raw_headers = WholeList()

    @property
    def headers_distinct(self):
        """Node's ``headersDistinct``: every field's values as a list, by lower-case name
        (made at the first read, then the same object, as Node's)."""
        try:
            return self._headers_distinct
        except AttributeError:
            pairs = len(self.raw_headers) // 2
            if self.all_headers is not self.headers:  # the map's fields only, as Node's (its cap)
                pairs = node_header_map_pairs(pairs, self._conn.server.max_headers_count)
            self._headers_distinct = fields = distinct(self.raw_headers, pairs)
            return fields
