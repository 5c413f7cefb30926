"""JavaScript's ``String()`` of a value Node writes as text without its header rules
(a 103's hints other than ``Link``: ``key + ': ' + value``).

Rules:
- A list (or tuple) is its items' texts joined with "," (nested lists too; an empty list
  is an empty text), as JavaScript's ``Array.prototype.toString``; a bool is ``true`` or
  ``false``; bytes are read as latin-1 (the bytes they are on the wire); anything else
  is ``str()``. No I/O.
"""


def js_text(value):
    """``value`` as JavaScript's ``String()`` writes it (see the module's rules)."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(js_text, value))
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is bytes:
        return value.decode("latin-1")
    return str(value)
