"""``request()`` and ``get()``: Node's ``http.request`` and ``http.get``, from a URL or
an options mapping.

Rules:
- A URL is ``http://[user[:password]@]host[:port][/path][?query]``: its parts become
  the options (``host``, ``port``, 80 by default, ``path``, ``/`` by default), its
  percent-decoded user and password the ``auth`` option; a URL without a scheme or a
  host, or with a bad port, is ERR_INVALID_URL. Keyword arguments are options too, and
  win over the URL's.
- Only ``http:``: any other protocol is ERR_INVALID_PROTOCOL, before anything is sent
  (an ``https:`` URL sent in the clear would give its credentials away).
- ``get()`` is ``request()`` then ``end()``.
"""

from urllib.parse import unquote, urlsplit

from ..http.serialize import HeaderError
from .request import ClientRequest


def request(url_or_options, callback=None, *, loop=None, **extra):
    """Node's ``http.request``: a ClientRequest; nothing happens before the next loop turn."""
    if isinstance(url_or_options, str):
        try:
            parts = urlsplit(url_or_options)
            port = parts.port
        except ValueError:  # a port that is not a number, or out of range
            raise HeaderError("ERR_INVALID_URL", "Invalid URL") from None
        if not parts.scheme or not parts.hostname:
            raise HeaderError("ERR_INVALID_URL", "Invalid URL")
        options = {"protocol": parts.scheme.lower() + ":", "host": parts.hostname, "port": port or 80,
                   "path": (parts.path or "/") + (f"?{parts.query}" if parts.query else "")}
        if parts.username or parts.password:  # the URL's credentials, percent-decoded (Node's)
            options["auth"] = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    else:
        options = dict(url_or_options)
    options.update(extra)
    protocol = options.get("protocol")
    if protocol is not None and protocol != "http:":
        raise HeaderError("ERR_INVALID_PROTOCOL", f'Protocol "{protocol}" not supported. Expected "http:"')
    return ClientRequest(options, callback, loop)


def get(url_or_options, callback=None, *, loop=None, **extra):
    """Node's ``http.get``: ``request()``, ended at once."""
    req = request(url_or_options, callback, loop=loop, **extra)
    req.end()
    return req
