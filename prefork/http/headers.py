"""Node's ``headers`` object from a raw header list: lower-case names, repeated
fields joined as Node joins them (set-cookie a list, cookie with "; ", the single-valued
ones keep the first, the rest with ", "); and how many fields Node keeps (raw list and
map) for a ``max_headers_count``."""

# Node's join rules for repeated request headers (matchKnownFields).
_FIRST_WINS = frozenset((
    "content-type", "content-length", "user-agent", "referer", "host", "authorization",
    "proxy-authorization", "if-modified-since", "if-unmodified-since", "from", "location",
    "max-forwards", "retry-after", "etag", "last-modified", "server", "age", "expires",
))


def add_repeated(headers, name, value, joins, join_all=False):
    """Fold a repeated field ``name`` (lower-case, already in ``headers``) in as Node
    does: a value to join goes to ``joins`` ({name: [values]}), joined once by
    ``join_repeated`` when the head is whole (joining at each field was quadratic in a
    head of thousands of repeats). ``join_all`` (Node's ``joinDuplicateHeaders``): the
    fields whose first value wins are joined too."""
    if name == "set-cookie":
        headers[name].append(value)
    elif join_all or name not in _FIRST_WINS:
        parts = joins.get(name)
        if parts is None:
            joins[name] = [headers[name], value]
        else:
            parts.append(value)


def join_repeated(headers, joins):
    for name, parts in joins.items():
        headers[name] = ("; " if name == "cookie" else ", ").join(parts)


def header_map(raw, pairs, join_all=False):
    """Node's ``headers`` object from the first ``pairs`` raw pairs (``join_all``: see
    ``add_repeated``)."""
    headers = {}
    joins = {}
    for i in range(0, 2 * pairs, 2):
        name = raw[i].lower()
        value = raw[i + 1]
        if name not in headers:
            headers[name] = [value] if name == "set-cookie" else value
        else:
            add_repeated(headers, name, value, joins, join_all)
    if joins:
        join_repeated(headers, joins)
    return headers


def distinct(raw, pairs):
    """Node's ``headersDistinct`` (and ``trailersDistinct``) from the first ``pairs`` raw
    pairs: every value, as a list by lower-case name."""
    fields = {}
    for i in range(0, 2 * pairs, 2):
        fields.setdefault(raw[i].lower(), []).append(raw[i + 1])
    return fields


_BATCH = 31  # Node hands header pairs to JS in batches of 31 once a head has 32+


def node_raw_header_pairs(total, max_headers_count):
    """How many raw header pairs Node keeps for ``max_headers_count`` (None = default)."""
    max_entries = 2000 if max_headers_count is None else 2 * max_headers_count
    if total < _BATCH + 1 or max_entries <= 0:
        return total
    kept = 0
    remaining = total
    while remaining > 0:
        batch = _BATCH if remaining > _BATCH else remaining
        if kept * 2 < max_entries:
            kept += batch
        remaining -= batch
    return kept


def node_header_map_pairs(kept, max_headers_count):
    """How many of the kept pairs go into ``headers`` (the map)."""
    limit = 1000 if max_headers_count is None else max_headers_count
    return kept if limit <= 0 or kept < limit else limit


def map_is_cut(raw, max_headers_count):
    """Whether ``max_headers_count`` (None = default) left some of the raw header list
    ``raw``'s fields out of the ``headers`` map: a field a proxy appended last (its
    X-Forwarded-For) may then be missing while the client's own is there."""
    pairs = len(raw) // 2
    return node_header_map_pairs(pairs, max_headers_count) < pairs
