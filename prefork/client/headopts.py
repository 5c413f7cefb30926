"""The options of a client request that shape its head and how its response is read,
checked as Node's ``ClientRequest`` checks them (at once, raising).

Rules:
- ``max_header_size``: a whole number >= 0 (else ERR_INVALID_ARG_TYPE, a TypeError,
  or ERR_OUT_OF_RANGE, a ValueError), the most bytes the response's head may take
  (its status text, names and values, as Node counts them); past it the request's
  ``error`` is HPE_HEADER_OVERFLOW. 0, or none given, is Node's default (16384).
- ``join_duplicate_headers``: a bool (else ERR_INVALID_ARG_TYPE): True joins every
  repeated field of the response's ``headers`` and ``trailers`` with ", " (``set-cookie``
  stays a list), where Node's default keeps the first of some (``content-type``...).
- ``unique_headers``: a list of names (any case) whose list value is sent as one line,
  its items joined with "; " (Node's ``uniqueHeaders``); Node ignores a value that is
  not an array, here it is a TypeError (ERR_INVALID_ARG_TYPE) rather than a silent no.
"""

from .port import coded

HEADER_LIMIT = 16384  # Node's default --max-http-header-size


def max_header_size(value):
    """The head's byte limit for the response parser."""
    if value is None:
        return HEADER_LIMIT
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                      f'The "maxHeaderSize" argument must be of type number. Received {value!r}')
    if not 0 <= value < float("inf") or value != int(value):
        raise coded(ValueError, "ERR_OUT_OF_RANGE",
                      f'The value of "maxHeaderSize" is out of range. It must be an integer >= 0. Received {value!r}')
    return int(value) or HEADER_LIMIT


def join_duplicate_headers(value):
    if value is None:
        return False
    if not isinstance(value, bool):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                      f'The "options.joinDuplicateHeaders" property must be of type boolean. Received {value!r}')
    return value


def unique_headers(value):
    """The lower-case names of ``unique_headers`` (None when none given)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)) or \
            not all(isinstance(name, str) for name in value):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                      f'The "options.uniqueHeaders" property must be a list of header names. Received {value!r}')
    return {name.lower() for name in value}
