"""The headers ``write_head`` is given, as Node reads its ``headers`` argument (outgoing.py's
rules): the array forms' pairs, and the fields in the order given."""

from ..http import serialize
from ..http.fields import node_pairs


def given_pairs(headers):
    """The fields ``write_head`` was given (checked already) as ``(lower-case name,
    (name, value))``, one per key or pair in the order given: the head's lines when no
    field was set before, as Node writes the object or array it is given."""
    if isinstance(headers, dict) or hasattr(headers, "keys"):
        pairs = headers.items()
    else:
        flat = list(headers)
        pairs = flat if flat and isinstance(flat[0], (list, tuple)) else zip(flat[0::2], flat[1::2])
    return [(name.lower(), (name, value if type(value) is str else serialize.field_value(value)))
            for name, value in pairs]


def given_list(headers):
    """``write_head``'s headers given as Node's arrays (an iterator too: read once here)
    as ``merge_fields`` takes them: a pair read as Node reads ``[name, value]``, its
    first two items (one missing is None, Node's undefined, refused with Node's error;
    more are ignored). Text, or an object that is no mapping nor iterable, is
    ``ERR_INVALID_ARG_TYPE`` (Node would take a string's indexes as names)."""
    if isinstance(headers, (str, bytes, bytearray)) or not hasattr(headers, "__iter__"):
        err = TypeError("The \"headers\" argument must be a mapping or a list of [name, value] pairs "
                        f"or of names and values. Received {headers!r}")
        err.code = "ERR_INVALID_ARG_TYPE"
        raise err
    flat = list(headers)
    return node_pairs(flat) if flat and isinstance(flat[0], (list, tuple)) else flat
