"""What is wrong in a configuration file TOML cannot read, in the file's own words.

Rules:
- ``syntax_hint(message, text, key_hint)``: `` (what is wrong)`` for TOML's error
  ``message`` on ``text``, or "". Lines are counted as TOML counts them: at ``\\n`` only
  (U+2028 and the like are no line break), column 1 the line's first character.
- A key set twice names both its lines; an earlier line setting the same key is named
  only when it is that key's first setting in the same table (not a line inside a
  multi-line string, nor one in another table): TOML itself checks it, with that line's
  key renamed, and the error must go away (the nearest such lines first, ``_TRIES`` at
  most: each try parses the file again). No earlier line so confirmed: no hint.
- A string written without quotes (``bind = 0.0.0.0:8000``) is shown quoted only when
  TOML's error lies in that line's value (after its ``=``), the value starts as a
  string would (not with a second ``=``), the line is at the top level (not in a
  ``[table]``: no setting there), and the line so quoted lets TOML read past it; a list
  setting's comma-separated value is a list of strings. A key prefork does not have
  gets no quoting advice (the line would still be refused), only ``key_hint(key,
  value)``: another server's name for a setting, or a near miss.
- Python's ``True``, ``False`` and ``None`` as a top-level setting's value (a
  gunicorn.conf.py's line) are answered in TOML's terms, never quoted as a string (a
  pidfile named ``None``): ``true``/``false`` when the setting takes that value, and
  for ``None`` the line left out (the default), or ``""`` for a text setting (none);
  only when the line so written lets TOML read past it.
- A key written without quotes that holds a character TOML's bare keys do not take
  (``wörkers``, fullwidth letters) is named, with ``key_hint`` for it.
- ``key_shown(key)`` is a key as a problem's ``SOURCE:KEY`` names it: bare when TOML
  could write it so, else quoted with its control characters escaped (``""``,
  ``"a\\nb"``), so that every problem stays one line.
"""

import json
import re

from .options import BY_NAME, toml_value

_KEY_LINE = re.compile(r"""[ \t]*("[^"\\\n]*"|'[^'\n]*'|[A-Za-z0-9_-]+)[ \t]*=[ \t]*(.*?)[ \t]*$""")
_TABLE_LINE = re.compile(r"""[ \t]*\[\[?[ \t]*("[^"\\\n]*"|'[^'\n]*'|[A-Za-z0-9_-]+)""")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ODD_BARE_KEY = re.compile(r"""[ \t]*([^\s"'=\[\]#.]+)[ \t]*=""")  # a key TOML's bare keys do not take
_PROBE = "prefork_probe_key_"
_TRIES = 16  # earlier lines with the same key tried for a set-twice hint (nearest first)


def key_shown(key):
    return key if _BARE_KEY.fullmatch(key) else toml_value(key)


def is_table(value):
    """A ``[table]``'s value, or an ``[[array of tables]]``'s."""
    return isinstance(value, dict) or (isinstance(value, list) and bool(value)
                                       and all(isinstance(item, dict) for item in value))


def _odd_bare_key(line, key_hint):
    found = _ODD_BARE_KEY.match(line)
    if found is None or _BARE_KEY.fullmatch(found.group(1)):
        return ""
    key = found.group(1)
    odd = next(c for c in key if not _BARE_KEY.fullmatch(c))
    near = key_hint(key)
    return (f" (a key without quotes is ASCII letters, digits, _ and - only: {key} has {odd!r} (U+{ord(odd):04X})"
            + (f"; {near[2:-1]}" if near else "") + ")")


def _key_match(line):
    """The match of the key a line sets (``KEY = ...``) or opens (``[KEY]``), or None."""
    return _KEY_LINE.match(line) or _TABLE_LINE.match(line)


def _key_of(line):
    found = _key_match(line)
    return found.group(1).strip("\"'") if found else None


def _error_at(text):
    """(line, column) of TOML's first error in ``text``, or None when it reads."""
    import tomllib

    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"\(at line (\d+), column (\d+)\)$", str(exc))
        return (int(at.group(1)), int(at.group(2))) if at else (0, 0)
    return None


def _reads_past(lines, number, column):
    """TOML's first error in ``lines`` (or none) lies beyond line ``number``, column ``column``."""
    after = _error_at("\n".join(lines))
    return after is None or after > (number, column)


def _top_level(lines):
    """A key written after ``lines`` is a top-level key (no ``[table]`` opened above)."""
    import tomllib

    probe = _PROBE
    while probe in "\n".join(lines):
        probe += "x"
    try:
        return probe in tomllib.loads("\n".join([*lines, f"{probe} = 1"]))
    except tomllib.TOMLDecodeError:
        return False


def _set_twice(key, lines, number, column):
    probe = _PROBE  # (a key no line holds)
    while probe in "\n".join(lines):
        probe += "x"
    tries = _TRIES  # (each try parses the file again: the nearest lines first, a few at most)
    for index in range(number - 2, -1, -1):
        line = lines[index]
        found = _key_match(line)
        if found is None or found.group(1).strip("\"'") != key:
            continue
        if not tries:
            break
        tries -= 1
        renamed = list(lines)
        renamed[index] = line[:found.start(1)] + probe + line[found.end(1):]
        if _reads_past(renamed, number, column):
            return f" ({key} is set twice, at lines {index + 1} and {number}: a key is set once)"
    return ""


def _python_literal(key, value, lines, number):
    """The hint for Python's ``True``, ``False`` or ``None`` as a setting's value: TOML's
    booleans are lower case, and it has no None (the line left out gives the default; a
    text setting's "" is none where its default is "" or "" turns it off), or "" when the line so written would still be refused."""
    from .checks import convert, check_value

    setting = BY_NAME[key]
    if value == "None":
        if not _reads_past([*lines[:number - 1], "", *lines[number:]], number, 1):
            return ""
        if setting.kind != "str":
            return " (TOML has no None: leave the line out for the default)"
        if setting.default != "" and setting.false_is_off:
            return f' (TOML has no None: write {key} = "" for none, or leave the line out for the default)'
        if setting.default != "":
            return " (TOML has no None: leave the line out for the default)"
        return f' (TOML has no None: leave the line out, or write {key} = "": both are none, the default)'
    try:
        check_value(key, convert(setting, value == "True", False))
    except ValueError:
        return ""
    written = f"{key} = {value.lower()}"
    fixed = [*lines[:number - 1], written, *lines[number:]]
    return f" (TOML writes true and false in lower case: {written})" if _reads_past(fixed, number, 1) else ""


def syntax_hint(message, text, key_hint):
    import tomllib

    at = re.search(r"\(at line (\d+), column (\d+)\)$", message)
    lines = text.split("\n")  # (a "\r" ending a line is kept: the columns stay TOML's)
    if at is None or not 0 < int(at.group(1)) <= len(lines):
        return ""
    number, column = int(at.group(1)), int(at.group(2))
    line = lines[number - 1]
    key = _key_of(line)
    if key is None:
        return _odd_bare_key(line, key_hint)
    if message.startswith(("Cannot overwrite a value", "Cannot declare")):
        return _set_twice(key, lines, number, column)
    found = _KEY_LINE.match(line.removesuffix("\r"))
    if found is None or column - 1 <= line.index("=", found.end(1)):
        return ""  # TOML's error is not in this line's value: the line may well be right
    value = re.sub(r"[ \t]+#.*$", "", found.group(2))
    setting = BY_NAME.get(key)
    if value in ("True", "False", "None"):  # a gunicorn.conf.py's line
        if not _top_level(lines[:number - 1]):
            return ""
        if setting is None:  # their key: ours named, never their None quoted into a string ("None")
            return key_hint(key) + " (TOML has no None)" * (value == "None")
        return _python_literal(key, value, lines, number)
    if not value or value[0] in "\"'[{=" or (setting and setting.kind not in ("str", "choice", "list")):
        return ""
    try:
        tomllib.loads(f"v = {value}")
        return ""  # a value TOML reads: what is wrong is elsewhere on the line
    except tomllib.TOMLDecodeError:
        pass
    if not _top_level(lines[:number - 1]):
        return ""  # (a table's key: quoted, it would still be no setting)
    if setting is None:
        return key_hint(key, value)
    if setting.kind == "list":
        written = "[" + ", ".join(json.dumps(part.strip(), ensure_ascii=False)
                                  for part in value.split(",") if part.strip()) + "]"
    else:
        written = json.dumps(value, ensure_ascii=False)
    fixed = list(lines)
    fixed[number - 1] = line[:found.start(2)] + written + ("\r" if line.endswith("\r") else "")
    if not _reads_past(fixed, number, len(fixed[number - 1]) + 1):
        return ""  # quoted, the line is still refused: the advice would not help
    return f" (a string is written in quotes: {key} = {written})"
