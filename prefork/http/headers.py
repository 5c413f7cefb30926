"""Node's ``headers`` object from a raw header list: lower-case names, repeated
fields joined as Node joins them (set-cookie a list, cookie with "; ", the single-valued
ones keep the first, the rest with ", ")."""

# Node's join rules for repeated request headers (matchKnownFields).
_FIRST_WINS = frozenset((
    "content-type", "content-length", "user-agent", "referer", "host", "authorization",
    "proxy-authorization", "if-modified-since", "if-unmodified-since", "from", "location",
    "max-forwards", "retry-after", "etag", "last-modified", "server", "age", "expires",
))


def add_repeated(headers, name, value):
    """Fold a repeated field ``name`` (lower-case, already in ``headers``) in as Node does."""
    if name == "set-cookie":
        headers[name].append(value)
    elif name == "cookie":
        headers[name] = headers[name] + "; " + value
    elif name not in _FIRST_WINS:
        headers[name] = headers[name] + ", " + value


def header_map(raw, pairs):
    """Node's ``headers`` object from the first ``pairs`` raw pairs."""
    headers = {}
    for i in range(0, 2 * pairs, 2):
        name = raw[i].lower()
        value = raw[i + 1]
        current = headers.get(name)
        if current is None:
            headers[name] = [value] if name == "set-cookie" else value
        elif name == "set-cookie":
            current.append(value)
        elif name in _FIRST_WINS:
            continue
        elif name == "cookie":
            headers[name] = current + "; " + value
        else:
            headers[name] = current + ", " + value
    return headers
