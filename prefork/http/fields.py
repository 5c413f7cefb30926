"""The header fields of an outgoing message, shared by the server's response and the
client's request (Node's ``OutgoingMessage`` header API).

Rules:
- Fields are kept by lower-case name with the first spelling given, as
  ``{lower-case name: (name, value)}`` in ``_headers`` (None until the first field);
  a list value is one line per item; a bytes value is its latin-1 text (checked as
  text: no CR or LF). ``set_header`` replaces, ``append_header`` adds lines,
  ``set_headers`` sets each field of a mapping (``set-cookie`` values gathered);
  ``merge_fields`` takes a mapping or Node's array forms (a server's ``write_head``,
  a client's ``headers`` option); for ``write_head`` a repeated name spelled otherwise
  keeps its own spelling on its line (a ``Spelled`` value), as Node writes the pairs.
- Once the head is fixed (``headers_sent``) every change raises
  ``ERR_HTTP_HEADERS_SENT``, as in Node. A name that is no ``str`` given to
  ``get_header``, ``has_header`` or ``remove_header`` raises ``ERR_INVALID_ARG_TYPE``
  (a ``TypeError``), as Node's ``validateString`` throws.
- Removing ``Connection``, ``Content-Length`` or ``Transfer-Encoding`` is remembered in
  ``_removed``: the head then leaves out the automatic field as well (Node's
  ``_removedConnection``, ``_removedContLen``, ``_removedTE``), until the field is set
  again (it then frames the message, as Node's head clears those flags for a field it
  finds); removing ``Date`` turns ``send_date`` off.
- No I/O: the class holding these methods owns the state (``headers_sent``,
  ``_headers``, ``_removed``, ``send_date``) and builds the head from it.
"""

from .serialize import HeaderError, Spelled, check_name, check_value, field_value

_FRAMING_FIELDS = ("connection", "content-length", "transfer-encoding")


def _not_text(name):
    err = TypeError(f'The "name" argument must be of type string. Received {name!r}')
    err.code = "ERR_INVALID_ARG_TYPE"  # (Node's validateString)
    return err


def _sent(verb):
    return HeaderError("ERR_HTTP_HEADERS_SENT", f"Cannot {verb} headers after they are sent to the client")



def node_pairs(items):
    """``[[name, value], ...]`` read as Node reads each ``[name, value]``: its first two
    items (one missing is None, Node's undefined, refused as Node refuses it; more are
    ignored); an item that is no list is a pair of two missing."""
    return [(item[0] if len(item) else None, item[1] if len(item) > 1 else None)
            if isinstance(item, (list, tuple, str)) else (None, None) for item in items]

class OutgoingFields:
    """Mixed into ``ServerResponse`` and ``ClientRequest``."""

    __slots__ = ()

    def _checked(self, verb, name, value):
        """``value`` as text (a bytes value is its latin-1 text), once checked: the head
        still open, the name a token, the value without a forbidden character."""
        if self.headers_sent:
            raise _sent(verb)
        check_name(name)
        if type(value) is not str:
            value = field_value(value)
        check_value(name, value)
        return value

    def set_header(self, name, value):
        value = self._checked("set", name, value)
        if self._headers is None:
            self._headers = {}
        key = name.lower()
        self._headers[key] = (name, value)
        if self._removed is not None:
            self._removed.discard(key)  # set again: it frames the message (Node's head clears _removed*)
        return self

    def append_header(self, name, value):
        """Add ``value`` (a list adds each item) to the field ``name``: one more line of
        it in the head; the first spelling of the name is kept (Node's ``appendHeader``)."""
        value = self._checked("append", name, value)
        if self._removed is not None:
            self._removed.discard(name.lower())
        entry = self._headers.get(name.lower()) if self._headers else None
        if entry is None:
            if self._headers is None:
                self._headers = {}
            self._headers[name.lower()] = (name, value)
            return self
        current = list(entry[1]) if isinstance(entry[1], (list, tuple)) else [entry[1]]
        if isinstance(value, (list, tuple)):
            current.extend(value)
        else:
            current.append(value)
        self._headers[name.lower()] = (entry[0], current)
        return self

    def set_headers(self, headers):
        """Node's ``setHeaders``: ``set_header`` for each field of a mapping (a Map or
        Headers in Node; a list is refused); ``set-cookie`` values are gathered into one
        field."""
        if self.headers_sent:
            raise _sent("set")
        if not hasattr(headers, "keys") or not hasattr(headers, "get"):
            err = TypeError("The headers must be a mapping")
            err.code = "ERR_INVALID_ARG_TYPE"
            raise err
        cookies = []
        for name, value in headers.items():
            if name == "set-cookie":
                if isinstance(value, (list, tuple)):
                    cookies.extend(value)
                else:
                    cookies.append(value)
                continue
            self.set_header(name, value)
        if cookies:
            self.set_header("set-cookie", cookies)
        return self

    def merge_fields(self, headers, replacing=False, spelled=False):
        """Set the fields of ``headers``: a mapping (any, as Node takes any object), or
        Node's array forms, ``[[name, value], ...]`` or the flat raw list, where every
        pair is a line of the head, a repeated name too (a flat list must hold whole
        pairs: ``ERR_INVALID_ARG_VALUE``). ``replacing`` (a server's ``write_head`` after
        fields were set: Node's progressive API): every pair is a ``set_header``, so a
        later pair of a name replaces an earlier one and a field set before. ``spelled``
        (a server's ``write_head`` alone): a repeated name spelled otherwise keeps its
        spelling on its line, as Node writes such pairs."""
        if isinstance(headers, dict) or hasattr(headers, "keys"):  # any mapping, as Node takes any object
            for name, value in headers.items():
                self.set_header(name, value)
            return
        flat = list(headers)
        if flat and isinstance(flat[0], (list, tuple)):
            pairs = node_pairs(flat)
        elif len(flat) % 2:
            err = ValueError("The argument 'headers' is invalid: a flat header list holds "
                             "name, value pairs")
            err.code = "ERR_INVALID_ARG_VALUE"
            raise err
        else:
            pairs = zip(flat[0::2], flat[1::2])
        if replacing:
            for name, value in pairs:
                if name:  # (Node skips an empty name here)
                    self.set_header(name, value)
            return
        seen = set()
        for name, value in pairs:
            key = name.lower() if isinstance(name, str) else name
            if key in seen:
                if spelled and name != self._headers[key][0] and not isinstance(value, (list, tuple)):
                    value = Spelled(self._checked("append", name, value), name)  # its line keeps this spelling (Node)
                self.append_header(name, value)
            else:
                seen.add(key)
                self.set_header(name, value)

    def get_header(self, name):
        if type(name) is not str and not isinstance(name, str):
            raise _not_text(name)
        entry = self._headers.get(name.lower()) if self._headers else None
        return None if entry is None else entry[1]

    def get_headers(self):
        return {key: value for key, (_, value) in self._headers.items()} if self._headers else {}

    def get_header_names(self):
        return list(self._headers) if self._headers else []

    def get_raw_header_names(self):
        """The names as first spelled (Node's ``getRawHeaderNames``)."""
        return [name for name, _ in self._headers.values()] if self._headers else []

    def has_header(self, name):
        if type(name) is not str and not isinstance(name, str):
            raise _not_text(name)
        return bool(self._headers) and name.lower() in self._headers

    def remove_header(self, name):
        if type(name) is not str and not isinstance(name, str):
            raise _not_text(name)
        if self.headers_sent:
            raise _sent("remove")
        key = name.lower()
        if key in _FRAMING_FIELDS:
            if self._removed is None:
                self._removed = set()
            self._removed.add(key)
        elif key == "date":
            self.send_date = False
        if self._headers:
            self._headers.pop(key, None)
