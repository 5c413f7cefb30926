"""A client response's fields, as Node's IncomingMessage gives them: ``raw_headers`` and
``headers``, ``raw_trailers`` and ``trailers``, and their ``*_distinct`` views; the
version's numbers (a 1xx's too: ``Information``, the payload of an ``information``
event); ``connection`` and ``req``.

Rules:
- ``headers`` maps the first ``pairs`` raw pairs (Node's caps: client/protocol.py),
  every repeated field joined with ", " when the request's ``join_duplicate_headers``
  is True (``trailers`` too, and a 1xx's ``headers``), as Node's parser joins them;
  ``headers_distinct`` lists the values of the same pairs by lower-case name, built at
  its first read and the same dict from then on, as Node's.
- ``trailers`` and ``raw_trailers`` are ``{}`` and ``[]`` until the parser completes the
  message (``set_trailers``): ``raw_trailers`` is then a new list, ``trailers`` the same
  dict, filled (a reference taken earlier sees them, as in Node), and so is a
  ``trailers_distinct`` read before (Node's stays empty then).
- ``connection`` is ``socket`` (Node's deprecated alias, settable as Node's).
- ``req`` is the request that got the response (Node's ``res.req``), held by a weak
  reference: the request holds the response (``req.res``), and a strong reference back
  would make a cycle of every exchange. It is the request while the request is alive
  (while the application or the exchange holds it); None once it has been freed, or for
  a response made without one.
"""

import weakref

from ..http.headers import distinct, header_map


class Version:
    """Node's ``httpVersionMajor`` and ``httpVersionMinor``, read from ``http_version``."""

    @property
    def http_version_major(self):
        return int(self.http_version.partition(".")[0])

    @property
    def http_version_minor(self):
        return int(self.http_version.partition(".")[2])


class ResponseFields(Version):
    url = ""  # Node's client response has an empty url and a null method
    method = None

    def _init_fields(self, raw_headers, pairs, request=None):
        self._request = None if request is None else weakref.ref(request)  # (no cycle: see Rules)
        self._join = request is not None and request.join_duplicate_headers
        self.raw_headers = raw_headers
        self.headers = header_map(raw_headers, pairs, self._join)
        self._pairs = pairs  # the raw pairs the map takes (Node's caps)
        self._headers_distinct = None
        self.trailers = {}
        self.raw_trailers = []
        self._trailers_distinct = None

    def set_trailers(self, raw):
        """The trailers the parser kept, as it completes the message: ``raw_trailers`` a new
        list, ``trailers`` (and ``trailers_distinct`` if it was read) filled in place."""
        self.raw_trailers = raw
        self.trailers.update(header_map(raw, len(raw) // 2, self._join))
        if self._trailers_distinct is not None:
            self._trailers_distinct.update(distinct(raw, len(raw) // 2))

    @property
    def connection(self):
        """Node's ``res.connection``: the deprecated alias of ``socket``."""
        return self.socket

    @connection.setter
    def connection(self, socket):
        self.socket = socket

    @property
    def req(self):
        """Node's ``res.req``: the request, while it is alive (else None)."""
        return None if self._request is None else self._request()

    @property
    def headers_distinct(self):
        """Node's ``headersDistinct``: the values of each field ``headers`` maps, as a list
        by lower-case name (the same dict at every access, as Node's)."""
        if self._headers_distinct is None:
            self._headers_distinct = distinct(self.raw_headers, self._pairs)
        return self._headers_distinct

    @property
    def trailers_distinct(self):
        """Node's ``trailersDistinct``: as ``headers_distinct``, for the trailers; one read
        before the end is filled at the end (Node's stays empty)."""
        if self._trailers_distinct is None:
            self._trailers_distinct = distinct(self.raw_trailers, len(self.raw_trailers) // 2)
        return self._trailers_distinct


class Information(Version):
    """The payload of ``information``: a 1xx response."""

    def __init__(self, status_code, status_message, http_version, raw_headers, pairs, join=False):
        self.status_code = status_code
        self.status_message = status_message
        self.http_version = http_version
        self.raw_headers = raw_headers
        self.headers = header_map(raw_headers, pairs, join)
