"""``request()`` and ``get()``: Node's ``http.request`` and ``http.get``, from a URL or
an options mapping.

Rules:
- A URL is read as Node's ``new URL()`` reads it (the WHATWG rules, client/whatwg.py:
  a backslash is a slash, dot segments are resolved, what the standard encodes is
  percent-encoded); its parts become the options (``hostname``, an IPv6 address without
  brackets; ``port``, 80 by default; ``path``, pathname and query), its percent-decoded
  user and password the ``auth`` option (a user or password that is not UTF-8 once
  decoded is refused, as Node's ``decodeURIComponent`` refuses it). A URL the standard
  refuses is ERR_INVALID_URL.
- Node's three forms: ``request(url[, options][, callback])`` and
  ``request(options[, callback])``; options given beside a URL win over its parts, and
  keyword arguments are options too, winning over both.
- Only ``http:``: any other protocol is ERR_INVALID_PROTOCOL, before anything is sent
  (an ``https:`` URL sent in the clear would give its credentials away).
- ``get()`` is ``request()`` then ``end()``.
"""

import re
from collections.abc import Mapping

from ..http.serialize import HeaderError
from . import whatwg
from .optnames import refused
from .request import ClientRequest


_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _decode_component(text):
    """Node's ``decodeURIComponent``: every ``%`` starts two hex digits, and what they
    make is UTF-8 (else the URL is refused: Node throws URIError there)."""
    if "%" not in text:
        return text
    if _ESCAPE.search(text):
        raise HeaderError("ERR_INVALID_URL", "URI malformed")
    try:
        return whatwg.percent_decode(text).decode("utf-8")
    except UnicodeDecodeError:
        raise HeaderError("ERR_INVALID_URL", "URI malformed") from None


OPTIONS = frozenset(("protocol", "host", "hostname", "port", "default_port", "path", "method", "headers", "agent",
                     "auth", "timeout", "socket_path", "set_host", "create_connection", "local_address",
                     "local_port", "family", "lookup", "hints", "auto_select_family",
                     "auto_select_family_attempt_timeout", "max_header_size", "join_duplicate_headers",
                     "unique_headers", "signal"))
# Node's options prefork's client does not implement: refused by name
NODE_ONLY = frozenset(("insecure_http_parser", "set_default_headers"))


def request(url_or_options, options=None, callback=None, *, loop=None, **extra):
    """Node's ``http.request(url[, options][, callback])`` (or ``(options[, callback])``):
    a ClientRequest; nothing happens before the next loop turn. ``options`` given beside
    a URL win over its parts, keyword arguments over both."""
    if callable(options):
        options, callback = None, options
    if isinstance(url_or_options, str):
        merged = _url_options(url_or_options)
    else:
        merged = dict(url_or_options)
    if options is not None:
        if not isinstance(options, Mapping):
            err = TypeError(f'The "options" argument must be of type object, not {type(options).__name__}')
            err.code = "ERR_INVALID_ARG_TYPE"
            raise err
        merged.update(options)
    merged.update(extra)
    unknown = set(merged) - OPTIONS
    if unknown:  # (Node's request takes any object; a silently ignored one would change what is sent)
        raise refused("request()", unknown, OPTIONS, NODE_ONLY)
    protocol = merged.get("protocol")
    if protocol is not None and protocol != "http:":
        raise HeaderError("ERR_INVALID_PROTOCOL", f'Protocol "{protocol}" not supported. Expected "http:"')
    return ClientRequest(merged, callback, loop)


def _url_options(url):
    """The options a URL gives (Node's ``urlToHttpOptions``)."""
    try:
        parts = whatwg.parse(url)
    except whatwg.UnsupportedScheme as exc:  # a URL Node reads, with a protocol it refuses
        return {"protocol": exc.scheme}
    except ValueError:
        raise HeaderError("ERR_INVALID_URL", "Invalid URL") from None
    # (``hostname``, as Node's urlToHttpOptions gives it: it wins over a ``host`` option
    # given beside the URL, as in Node)
    options = {"protocol": parts.protocol, "hostname": parts.hostname, "path": parts.path}
    if parts.port:
        options["port"] = parts.port  # (none: default_port's, else 80)
    if parts.username or parts.password:  # the URL's credentials, percent-decoded (Node's)
        options["auth"] = f"{_decode_component(parts.username)}:{_decode_component(parts.password)}"
    return options


def get(url_or_options, options=None, callback=None, *, loop=None, **extra):
    """Node's ``http.get``: ``request()``, ended at once."""
    req = request(url_or_options, options, callback, loop=loop, **extra)
    req.end()
    return req
