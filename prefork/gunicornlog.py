"""gunicorn's access log format (``%(x)s`` atoms, read by ``format % atoms``) written
in prefork's ``{x}`` fields, for the advice of its refusal (checks.py, flagvalues.py).

Rules:
- The translation is the format gunicorn would log, field for field: an atom with a
  counterpart is that field (a width, ``%(h)-20s``, is its format spec), ``%%`` is a
  ``%`` and a brace is doubled (gunicorn's literal text, a JSON line's braces, is no
  field here); an atom without one (or with a conversion or flag that has none) is
  named, each once, as written, and no translation is given.
- The translation given is a format prefork accepts (a test checks it).
"""

import re


# a %-format atom with its mapping key, as gunicorn's ``access_log_format % atoms`` reads it:
# (key, flags, width, precision, conversion); ``%%`` a literal ``%``; a brace, text to escape
GUNICORN_PIECE = re.compile(r"%\(([^)]*)\)([-#0 +]*)(\d*)(\.\d*)?([diouxXeEfFgGcrsa])|%%|[{}]")


def gunicorn_format(fmt):
    """(``fmt`` with gunicorn's ``%(x)s`` atoms written as prefork's fields, or None when
    one of them has no counterpart; those atoms, each once, as written). ``%(t)s``
    carries its brackets in gunicorn; a header's ``%({name}i)s`` is ``{i[name]}``, its
    ``%({name}o)s`` ``{o[name]}`` (gunicorn's ``%({name}e)s``, a WSGI environ key, has none).
    The rest is gunicorn's literal text, written as prefork's: ``%%`` is ``%``, a brace
    is doubled (a JSON line's ``{`` is no field). An atom's width (``%(h)-20s``,
    ``%(D)8d``) is the field's format spec; any other conversion or flag has none."""
    failed = []

    def piece(match):
        text = match.group(0)
        if text == "%%":
            return "%"
        if text in ("{", "}"):
            return text * 2
        atom, flags, width, precision, conversion = match.groups()
        field = _field(atom)
        spec_ok = precision is None and flags in ("", "-") and (conversion == "s" or conversion == "d" and atom == "D")
        padded = field == "-" or field is not None and field.startswith("{")  # ([{t}] carries its brackets)
        if field is not None and spec_ok and (not width or padded):
            if not width:
                return field
            align = "<" if flags else ">"  # (%-formatting pads on the left unless "-")
            if field == "-":
                return f"{field:{align}{width}}"
            return f"{field[:-1]}:{align}{width}}}"
        if text not in failed:
            failed.append(text)
        return text
    translated = GUNICORN_PIECE.sub(piece, fmt)
    return (None if failed else translated), failed


def _field(atom):
    """The prefork field (or text) of gunicorn's atom key, else None."""
    field = GUNICORN_ATOMS.get(atom)
    if field is None:
        header = re.fullmatch(r"\{([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\}([io])", atom)
        if header is not None and not header.group(1).isdigit():  # a request's or response's header
            field = f"{{{header.group(2)}[{header.group(1).lower()}]}}"
    return field


def gunicorn_format_hint(fmt, fields):
    """What the refusal of a gunicorn format adds: the same format in prefork's fields,
    or, when an atom has none (docs/gunicorn.md), prefork's ``fields`` and those atoms;
    an atom that has a field but a conversion or flag without a spec here is named apart."""
    translated, failed = gunicorn_format(fmt)
    if translated is not None:
        return f": {translated!r}"
    specs = [atom for atom in failed if _field(GUNICORN_PIECE.fullmatch(atom).group(1)) is not None]
    missing = [atom for atom in failed if atom not in specs]
    said = [f"no field here for {', '.join(missing)}"] if missing else []
    if specs:
        said.append(f"no format spec here for the conversion or flag of {', '.join(specs)} (write the field "
                    f"alone, or with a width)")
    return (f" ({', '.join('{' + f + '}' for f in sorted(fields))}, {{i[name]}}, {{o[name]}}); {'; '.join(said)} "
            f"(docs/gunicorn.md)")


GUNICORN_ATOMS = {"h": "{h}", "l": "-", "u": "-", "t": "[{t}]", "r": "{r}", "m": "{m}", "U": "{U}", "s": "{s}",
                  "b": "{b}", "f": "{f}", "a": "{a}", "D": "{D}", "L": "{L}", "p": "{p}"}
