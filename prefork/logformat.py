"""The access log format, compiled: ``access_log_format`` into the Python source of one
function that builds a line (``compile_format``), of the worker's response observer
around it (``compile_observer``), or of an observer that holds the line's values and a
``render`` that makes the lines of a batch of them at the flush (``compile_held``, the
worker's, for any format without a format spec or conversion).

Rules:
- The function computes only the fields the format uses and builds the line with one
  f-string (or, for fields with a format spec or conversion, one ``str.format`` call).
  Its code is put together from a fixed table of field expressions (``_FIELDS``); the
  format's literal text stands in the source as placeholders that ``define`` turns into
  code constants after compiling, so no text from the format reaches the code.
- Held values are read when the response ends (the duration, the client's text, the
  sizes; the time text at the flush, made before it changes), so a line made at the
  flush is the line made at once.
- The decimal text of small integers (status, size, duration in µs) is looked up in a
  table (``numbers()``) rather than formatted; a value outside it is formatted. A
  batch's line (``compile_held``) looks each of them, and the HTTP version, up in a
  table of its text with the format's literal text on either side of it (fewer pieces
  per line); any value such a table does not hold makes its line as above. A line that
  cannot be made at all is left out: the rest of its batch is still made and counted.
- ``render`` reads its scope's names as locals (keyword-only defaults): none is bound again.
- A single time field takes the literal text around it into the clock's text
  (``clock_text``), one piece fewer per line.
- A header's field (``{i[name]}``, ``{o[name]}``: logtext.py) is read, as its own local,
  only by a format that has it; its name is a constant of the code, never source.
- Text the client chose (the URL, ``Referer``, ``User-Agent``, a header's field, a method an app copied
  from a header) never forges a field or a line: a double quote, a backslash, a
  control character and every byte outside printable ASCII is written as ``\\xHH``
  (as nginx does), so a value cannot close the quotes around it. Texts found clean
  are remembered (``ClientText``, bounded): the usual line pays one ``in`` per field.
"""

import dis
import string

from . import logtext
from .logtext import ClientText, header_field, header_locals
from .net.zones import unzoned

SAFE_KEPT, SAFE_LENGTH, escape = logtext.SAFE_KEPT, logtext.SAFE_LENGTH, logtext.escape
HEADER_SAMPLES = logtext.HEADER_SAMPLES  # (check_format's)

NUMBERS = 4096  # the decimal text of 0 .. NUMBERS - 1 is looked up, not formatted

# {b}'s expression (explained below the table)
_SIZE = ('res.bytes_sent or res.has_body and res.get_header("content-length") not in ("0", 0) '
         'and res.get_header("content-length") or "-"')
# Each field: the expression for str.format (any type), and the f-string piece for the
# plain "{x}" case. Both come from this table only. The client's text is read into
# locals first (``_CLIENT_TEXT``), checked and escaped there.
# {h}'s expression: a link-local peer without its zone (fe80::1, not fe80::1%eth0), as
# gunicorn, uvicorn and nginx log it; unzoned() is called only for an address with a "%"
_HOST = ('req.forwarded_client or (log_peer if "%" not in (log_peer := req.socket.remote_address or "-") '
         'else log_unzoned(log_peer))')
_FIELDS = {
    "h": (_HOST, "{" + _HOST + "}"),
    "t": ("clock[0]", "{clock[0]}"),
    "r": ('f"{log_method} {log_url} HTTP/{req.http_version}"', "{log_method} {log_url} HTTP/{req.http_version}"),
    "m": ("log_method", "{log_method}"),
    "U": ("log_url", "{log_url}"),
    "s": ("res.status_code", "{res.status_code}"),
    "b": (_SIZE, "{" + _SIZE + "}"),
    "f": ("log_referer", "{log_referer}"),
    "a": ("log_agent", "{log_agent}"),
    "D": ("int(duration * 1e6)", "{int(duration * 1e6)}"),
    "L": ('"%.6f" % duration', "{duration:.6f}"),
    "p": ("pid", "{pid}"),
}
# {h}: the client a trusted proxy named, as the WSGI or ASGI app sees it (set on the request by
# its adapter: server/request.py), else the peer's address (_HOST). {b}: the body's bytes the server wrote
# (sendfile's included), else its Content-Length, but never that of a response without a body
# (HEAD, 1xx, 204, 304: ``has_body`` false), whose Content-Length describes a body not sent, nor
# a Content-Length of 0: no body byte is ``-``, whichever way the app said it
FIELDS = frozenset(_FIELDS)
# {r} of a request the server answered itself (server/replies.py): "-" when no line was read;
# a line with no HTTP version (a PROXY header's: http/proxyline.py) as "{method} {rest}"
_REPLY_R = ('("-" if req.http_version == "-" else f"{log_method} {log_url} HTTP/{req.http_version}" '
            'if req.http_version else f"{log_method} {log_url}")')
# {m} and {U} of such a line are "-" (nginx logs a PROXY line as $request, its method and URI as "-")
_REPLY_M, _REPLY_U = '(log_method if req.http_version else "-")', '(log_url if req.http_version else "-")'
_REPLY_FIELDS = dict(_FIELDS, r=(_REPLY_R, "{" + _REPLY_R + "}"), m=(_REPLY_M, "{" + _REPLY_M + "}"),
                     U=(_REPLY_U, "{" + _REPLY_U + "}"))
# Cheaper f-string pieces for the plain case: an int's text is looked up in ``numbers`` (a dict
# of 1 .. NUMBERS - 1 to its decimal text) instead of formatted. A status code that is not a key
# raises KeyError (or TypeError) and the line is built again by the pieces above; a size or
# duration that is not a key is formatted as before.
_FAST = {
    "s": "{numbers[res.status_code]}",
    "b": "{numbers.get(res.bytes_sent) or " + _SIZE + "}",
    "D": "{numbers.get(micros) or micros}",
}
# The client's text (the method too: an app may set a header's) read into locals, in order.
_CLIENT_TEXT = (
    ("log_method", "req.method", ("r", "m")),
    ("log_url", "req.url", ("r", "U")),
    ("log_referer", 'req.headers.get("referer", "-")', ("f",)),
    ("log_agent", 'req.headers.get("user-agent", "-")', ("a",)))
def _client_text(used, headers):
    """The code that reads the client's text the fields ``used`` (and ``headers``) need
    into locals, and escapes it when one of them holds a byte that may not stand raw in a
    line (or is no hashable text: an app may set a header to a list; its text then)."""
    wanted = [(name, source) for name, source, fields in _CLIENT_TEXT if used.intersection(fields)]
    wanted += dict.fromkeys(headers.values())
    if not wanted:
        return ""
    names = ", ".join(name for name, _ in wanted)
    return ("".join(f"    {name} = {source}\n" for name, source in wanted) + "    try:\n        if "
            + " or ".join(f"{name} not in log_safe" for name, _ in wanted) + f":\n            {names}, = "
            f"log_check({names})\n    except TypeError:\n        {names}, = log_check({names})\n")


def parse_format(fmt):
    """[(literal, field or None, spec, conversion)]; raises ValueError for a bad format."""
    try:
        parts = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise ValueError(f"not a valid format: {exc}") from None
    unknown = sorted({name for _, name, _, _ in parts if name is not None and header_field(name) is None} - FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join('{' + f + '}' for f in unknown)} (a request header is "
                         f"written {{i[name]}}, a response header {{o[name]}})")
    for _, name, spec, _ in parts:
        if spec and "{" in spec:  # str.format would fill it from a field the line does not pass
            raise ValueError(f"a field inside a format spec ({{{name}:{spec}}}) is not read: write the "
                             f"width or precision itself")
    return parts


# A literal piece of the format is written in the f-string as this text (escaped, so the
# source holds only these characters); the compiled code's constant of that text is then
# replaced by the piece itself.
_PLACEHOLDER = "\\u2063%d\\u2063"


def _pieces(parts, fields, fast_fields):
    """A plain format's f-string pieces ([pieces], [cheaper pieces], constants): literal
    pieces are placeholders for the text (kept in ``constants``), fields the pieces of
    ``fields`` (``fast_fields``' where they have one); a single time field takes the
    literal text around it into the clock's text (``clock_text``)."""
    pieces, fast, constants = [], [], {}
    pending = ""  # literal text waiting for the next field (adjacent literals are one)
    merge_clock = sum(name == "t" for _, name, _, _ in parts) == 1

    def add_literal(text):  # a placeholder in both f-strings, the text in ``constants``
        key = _PLACEHOLDER % len(constants)
        constants[key] = text
        pieces.append(key)
        fast.append(key)

    prefix = suffix = None
    for literal, name, _, _ in parts + [("\n", None, None, None)]:
        pending += literal
        if name is None:
            continue
        if merge_clock and name == "t":
            prefix, pending = pending, ""
        elif prefix is not None and suffix is None:
            suffix, pending = pending, ""
        if pending:
            add_literal(pending)
            pending = ""
        pieces.append(fields[name])
        fast.append(fast_fields.get(name) or fields[name])
    if prefix is not None and suffix is None:
        suffix, pending = pending, ""
    if pending:
        add_literal(pending)
    if prefix is not None:
        constants["clock_text"] = (prefix, suffix)
    return pieces, fast, constants


def _compile_body(fmt, fields=_FIELDS):
    """(fields used, the ``micros`` line or "", the code that builds and holds the line,
    its constants)."""
    parts = parse_format(fmt)
    plain = all(spec == "" and conversion is None for _, name, spec, conversion in parts if name is not None)
    used = {name for _, name, _, _ in parts if name is not None}
    found = {}
    headers = header_locals(parts, found, FIELDS)
    if plain:
        pieces, fast, constants = _pieces(parts, {**{name: field[1] for name, field in fields.items()},
                                                  **{name: "{" + local + "}" for name, (local, _) in headers.items()}},
                                          _FAST)
        build = "    text = f'" + "".join(pieces) + "'\n"
        if "s" in used:
            build = ("    try:\n        text = f'" + "".join(fast) + "'\n"
                     "    except (KeyError, TypeError):\n    " + build)
        else:
            build = "    text = f'" + "".join(fast) + "'\n"
    else:
        constants = {"template": fmt + "\n"}
        keywords = [f"{name}={fields[name][0]}" for name in sorted(used) if name in fields]
        for kind in "io":  # {i[X-Id]}: str.format reads i["X-Id"] (the key a constant)
            pairs = []
            for name, (local, _) in headers.items():
                if name[0] == kind:
                    constants[f"header_key{len(constants)}"] = name[2:-1]
                    pairs.append(f"header_key{len(constants) - 1}: {local}")
            if pairs:
                keywords.append(f"{kind}={{{', '.join(pairs)}}}")
        keywords = ", ".join(keywords)
        build = f"    text = template.format({keywords})\n"
    # math.trunc: the same int as int() for a float, for half the instructions
    micros = "    micros = trunc(duration * 1e6)\n" if plain and "D" in used else ""
    constants.update(found)
    client = _client_text(used, headers)
    if client:
        checker = ClientText()
        constants["log_safe"], constants["log_check"] = checker.safe, checker.check
    return used, micros, client + build + "    append(text)\n    if len(lines) >= limit:\n        flush()\n", constants


_TICK = "    if not clock[1] <= now < clock[2]:\n        tick(now)\n"


def compile_format(fmt, replies=False):
    """Python source of ``line(req, res, duration)`` and the constants it uses (the
    format's literal text travels in those constants, never in the source: a constant
    keyed by a ``_PLACEHOLDER`` text stands for that text in the compiled code, any
    other is a name). ``clock`` holds wall-clock seconds here. ``replies``: the line of
    a request the server answered itself (req and res one ``ServerReply``)."""
    used, micros, build, constants = _compile_body(fmt, _REPLY_FIELDS if replies else _FIELDS)
    clock = "    now = wall()\n" + _TICK if "t" in used else ""
    return "def line(req, res, duration):\n" + clock + micros + build, constants


def compile_observer(fmt, record="", record_micros="", count=False):
    """Python source of ``observe(req, res)``: the duration taken once (in seconds and
    in whole µs), then the response counted by ``record`` (fixed code, e.g.
    metrics.WorkerMetrics.RECORD; ``record_micros`` when the line computes ``micros``), the
    line of ``fmt``, and ``count()`` when asked for, all in one function (one call per
    response). ``clock`` is kept by a timer here."""
    used, micros, build, constants = _compile_body(fmt)
    return ("def observe(req, res):\n    duration = req.socket.last_activity - req.start_time\n" + micros
            + (record_micros if micros and record_micros else record)
            + build + ("    count()\n" if count else "")), constants


# The worker's observer holds each response's values in a tuple, and the flush makes the
# lines of all of them at once (``compile_held``). Each field: the locals it needs, with
# where the observer reads them, and its f-string piece over those locals (and the
# cheaper piece, as ``_FAST``, where there is one).
_HELD = {
    "h": ((("log_host", _HOST),), "{log_host}", None),
    "t": ((("log_time", "clock[0]"),), "{log_time}", None),
    "r": ((("log_method", "req.method"), ("log_url", "req.url"), ("log_version", "req.http_version")),
          "{log_method} {log_url} HTTP/{log_version}", None),
    "m": ((("log_method", "req.method"),), "{log_method}", None),
    "U": ((("log_url", "req.url"),), "{log_url}", None),
    "s": ((("log_status", "res.status_code"),), "{log_status}", "{numbers[log_status]}"),
    "b": ((("log_size", _SIZE),),
          "{log_size}", "{(numbers.get(log_size) if log_size.__class__ is int else None) or log_size}"),
    "f": ((("log_referer", 'req.headers.get("referer", "-")'),), "{log_referer}", None),
    "a": ((("log_agent", 'req.headers.get("user-agent", "-")'),), "{log_agent}", None),
    "D": ((("micros", "micros"),), "{micros}", "{numbers.get(micros) or micros}"),
    "L": ((("duration", "duration"),), "{duration:.6f}", None),
    "p": ((), "{pid}", None),
}


def compile_held(fmt, tally="", count=False, tally_batch=""):
    """Python source of ``observe(req, res)`` and ``render()``, and their constants; None
    for a format with a format spec or conversion (``compile_observer`` then). The
    observer takes the duration, holds the values of the format's fields (and, with a
    ``tally``, of what it counts) as one tuple (``hold``) and calls ``flush()`` when
    ``held`` reaches ``limit``, then ``count()`` when asked for. ``render()`` counts each
    held response with ``tally`` (fixed code, e.g. metrics.WorkerMetrics.TALLY; then
    ``tally_batch`` once), makes the line of each held tuple (a held ``str`` is a line
    already, counted in ``replied[0]``), checking the client's text, and appends the
    lines to ``made`` (a list): about half of what making each as its response ends costs."""
    parts = parse_format(fmt)
    if any(name is not None and (spec or conversion is not None) for _, name, spec, conversion in parts):
        return None
    found = {}
    headers = header_locals(parts, found, FIELDS)
    fields = dict(_HELD, **{name: (((local, source),), "{" + local + "}", None)
                            for name, (local, source) in headers.items()})
    pieces, fast, constants = _pieces(parts, {name: field[1] for name, field in fields.items()},
                                      {name: field[2] for name, field in fields.items()})
    constants.update(found)
    names, sources = [], []
    counted = [_HELD["m"][0][0], _HELD["s"][0][0], _HELD["D"][0][0], _HELD["L"][0][0]] if tally else []
    for local, source in [held for _, name, _, _ in parts if name is not None for held in fields[name][0]] + counted:
        if local not in names and local != "log_time":
            names.append(local)
            sources.append(source)
    # (one time text for all that is held: the log makes their lines before it changes)
    clock = "    log_time = clock[0]\n" if any(name == "t" for _, name, _, _ in parts) else ""
    micros = "    micros = trunc(duration * 1e6)\n" if "micros" in names else ""
    observe = ("def observe(req, res):\n    duration = req.socket.last_activity - req.start_time\n" + micros
               + f"    held.append(({''.join(source + ', ' for source in sources)}))\n"
               + "    if len(held) >= limit:\n        flush()\n" + ("    count()\n" if count else ""))
    client = [local for local, _, _ in _CLIENT_TEXT if local in names]
    client += dict.fromkeys(local for local, _ in headers.values())
    check = unusual = ""
    if client:
        checker = ClientText()
        constants["log_safe"], constants["log_check"] = checker.safe, checker.check
        check = ("        if " + " or ".join(f"{local} not in log_safe" for local in client) + ":\n"
                 f"            {', '.join(client)}, = log_check({', '.join(client)})\n")
        unusual = f"        {', '.join(client)}, = log_check({', '.join(client)})\n"
    line, fast_line = "".join(pieces), "".join(fast)
    targets = ", ".join(names) + "," if names else "_"
    unpack = f"    {targets} = entry\n"
    make = (f"        try:\n            return f'{fast_line}'\n        except (KeyError, TypeError):\n"
            f"            return f'{line}'\n") if fast_line != line else f"        return f'{line}'\n"
    line_of = ("def line_of(entry):\n" + clock + unpack + "    try:\n" + check + make
               + "    except Exception:\n" + unpack.replace("    ", "        ", 1) + unusual
               # (a client text that is no str: escaped as its str(), the plain pieces)
               + f"        return f'{line}'\n")
    batch = _batch_line(parts, constants, dict(_BATCH, **{name: f"{{{local} if {local} in log_safe else "
                                                          f"log_check({local})[0]}}" for name, (local, _) in headers.items()}))
    lost = "except Exception as exc:  # (that line only: raised once the rest are made)\n    failed.append(exc)\n"
    counting = ""
    if tally:  # (an entry that cannot be counted, e.g. an unhashable status, is left out)
        counting = "try:\n" + _indent(tally, 4) + "except Exception:\n    pass\n"
    # the usual batch (no line made already): one loop, each response counted, its line made
    loop = (f"        for {targets} in held:\n" + _indent(counting, 12)
            + f"            try:\n                made.append(f'{batch}')\n"
            "            except Exception:  # a value of an unusual type: made as the log always made it\n"
            f"                try:\n                    made.append(line_of(({targets})))\n" + _indent(lost, 16))
    mixed = ("        for entry in held:\n"
             "            if entry.__class__ is str:\n                made.append(entry)\n                continue\n"
             + (_indent(f"{targets} = entry\n" + counting, 12) if tally else "")
             + "            try:\n                made.append(line_of(entry))\n" + _indent(lost, 12))
    render = (clock + "    failed = []\n    try:\n        if not replied[0]:\n" + _indent(loop, 4) + "        else:\n"
              + _indent(mixed, 4) + _indent(tally_batch, 8) + "        if failed:\n            raise failed[0]\n"
              + "    finally:\n        held.clear()\n        replied[0] = 0\n")
    return observe + "\n\n" + line_of + "\n\n" + _with_local_names("render", render), constants


def _with_local_names(name, body):
    """``def name():`` running ``body``, each global it reads a keyword-only local defaulting to it."""
    code = compile(f"def {name}():\n" + body, "<source>", "exec").co_consts[0]
    names = sorted({op.argval for op in dis.get_instructions(code) if op.opname == "LOAD_GLOBAL"})
    return f"def {name}({'*, ' if names else ''}{', '.join(f'{n}={n}' for n in names)}):\n" + body


# A number's text in a batch's line, with the literal text on either side of it
# (``_batch_line``): its local, its table's keys, the test of a key the table may not hold
# (else a KeyError: ``line_of`` makes the line). The µs' table is a list (cheaper): the
# text of 0 .. n - 1, then of -n .. -1 (no duration is less: the clock is monotonic).
_TABLES = {
    "s": ("log_status", range(100, 1000), None),
    "b": ("log_size", range(1, NUMBERS), "log_size.__class__ is int and log_size < numbers_end"),
    "D": ("micros", NUMBERS, "micros < numbers_end"),
    "v": ("log_version", ("1.0", "1.1"), None),
}


def _batch_line(parts, constants, pieces):
    """The f-string of a batch's line: as ``_pieces``' (the time field with its literal
    text, from ``clock_text``), but each number (and the HTTP version) looked up in a
    table of its text with the literal text before and after it (``constants``)."""
    items = []  # [literal text or field name], the request line ``{r}`` as its fields
    for literal, name, _, _ in parts + [("\n", None, None, None)]:
        items.append(("", literal))
        if name == "r":
            items += [("m", ""), ("", " "), ("U", ""), ("", " HTTP/"), ("v", "")]
        elif name is not None:
            items.append((name, ""))
    merged = []
    for field, text in items:  # adjacent literals as one
        if not field and merged and not merged[-1][0]:
            merged[-1] = ("", merged[-1][1] + text)
        elif field or text:
            merged.append((field, text))
    if sum(field == "t" for field, _ in merged) == 1:  # its text is clock_text's
        at = [field for field, _ in merged].index("t")
        if at + 1 < len(merged) and not merged[at + 1][0]:
            del merged[at + 1]
        if at and not merged[at - 1][0]:
            del merged[at - 1]
    out, taken = [], set()  # out: [piece or (literal text,)]
    for at, (field, text) in enumerate(merged):
        if not field:
            if at not in taken:
                out.append((text,))
            continue
        if field not in _TABLES:
            out.append(pieces[field])
            continue
        local, keys, usual = _TABLES[field]
        before = after = ""
        if at and not merged[at - 1][0] and at - 1 not in taken:
            before = merged[at - 1][1]
            out.pop()
        if at + 1 < len(merged) and not merged[at + 1][0]:
            after = merged[at + 1][1]
            taken.add(at + 1)
        table = f"number_text{len(constants)}"
        constants["numbers_end"] = NUMBERS
        if keys.__class__ is int:
            keys = [*range(keys), *range(-keys, 0)]
            constants[table] = [f"{before}{key}{after}" for key in keys]
        else:
            constants[table] = {key: f"{before}{key}{after}" for key in keys}
        if usual is None:
            out.append(f"{{{table}[{local}]}}")
        else:
            constants[table + "_before"], constants[table + "_after"] = before, after
            out.append(f'{{{table}[{local}] if {usual} else f"{{{table}_before}}{{{local}}}{{{table}_after}}"}}')
    for at, piece in enumerate(out):
        if piece.__class__ is tuple:  # a literal: a placeholder, its text in ``constants``
            out[at] = _PLACEHOLDER % len(constants)
            constants[out[at]] = piece[0]
    return "".join(out)


# each field's piece in a batch's line (but those of ``_TABLES``), client text checked
_BATCH = {
    "h": "{log_host}", "t": "{log_time}", "L": "{duration:.6f}", "p": "{pid}",
    "m": "{log_method if log_method in log_safe else log_check(log_method)[0]}",
    "U": "{log_url if log_url in log_safe else log_check(log_url)[0]}",
    "f": "{log_referer if log_referer in log_safe else log_check(log_referer)[0]}",
    "a": "{log_agent if log_agent in log_safe else log_check(log_agent)[0]}",
}


def _indent(code, spaces):
    return "".join(" " * spaces + line + "\n" for line in code.splitlines())


def _with_literals(code, literals):
    """``code`` (and the code in it) with each placeholder constant replaced by its text."""
    consts = tuple(_with_literals(c, literals) if hasattr(c, "co_consts") else
                   literals.get(c, c) if isinstance(c, str) else c for c in code.co_consts)
    return code.replace(co_consts=consts)


def numbers():
    """The table ``numbers`` of the compiled code: the decimal text of 1 .. NUMBERS - 1."""
    return {number: str(number) for number in range(1, NUMBERS)}


def define(source, constants, scope, filename):
    """Run ``source`` (from ``compile_format`` or ``compile_observer``) in ``scope``: each
    placeholder constant becomes its text in the compiled code, any other constant a
    name in ``scope``."""
    literals = {}
    scope.setdefault("log_unzoned", unzoned)  # ({h}'s)
    for key, value in constants.items():
        if key.startswith("\\u2063"):
            literals[key.encode().decode("unicode_escape")] = value
        else:
            scope[key] = value
    exec(_with_literals(compile(source, filename, "exec"), literals), scope)
    return scope
