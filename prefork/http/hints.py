"""The head of a 103 Early Hints interim response, as Node's ``writeEarlyHints`` makes it."""

import re

from .jstext import js_text
from .serialize import HeaderError, check_name, check_value, field_value

# a Link value as Node's writeEarlyHints takes it: <target> then ;-separated parameters
_LINK = re.compile(r'<[^>]*>(?:[ \t\r\n]*;[ \t\r\n]*[^;"\s]+(?:=("?)[^;"\s]*\1)?)*\Z')


def early_hints(hints):
    """The 103 head for ``hints``, a mapping (Node: no head at all without a ``link``)."""
    if not hasattr(hints, "get") or not hasattr(hints, "items"):
        err = TypeError(f'The "hints" argument must be of type object. Received {hints!r}')
        err.code = "ERR_INVALID_ARG_TYPE"  # (Node's validateObject)
        raise err
    link = field_value(hints.get("link"))
    if link is None:
        return None
    links = link if isinstance(link, (list, tuple)) else [link]
    for item in links:
        if not isinstance(item, str) or not _LINK.match(item):
            raise HeaderError("ERR_INVALID_ARG_VALUE", "The argument 'hints' must be an array or string of "
                              f"format \"</styles.css>; rel=preload; as=style\". Received {item!r}")
    link = ", ".join(links)
    if not link:
        return None
    check_value("link", link)  # (a line end inside the <...>: the pattern lets it by)
    head = "HTTP/1.1 103 Early Hints\r\nLink: " + link + "\r\n"
    for key, value in hints.items():
        if key != "link":
            check_name(key)
            check_value(key, value := field_value(value))  # (None refused)
            check_value(key, text := js_text(value))  # (what goes out: bytes in a nested list too)
            head += f"{key}: {text}\r\n"  # (one line: a list's items joined with ",", as Node)
    return (head + "\r\n").encode("latin-1")
