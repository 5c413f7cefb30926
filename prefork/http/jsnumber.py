"""JavaScript's number coercion where Node applies it to what an app gives (a status
code's ``statusCode |= 0``).

Rules:
- ``int32(value)`` is ``value | 0``: a number, or a string in JavaScript's numeric grammar
  (its white space trimmed; hex, octal and binary forms rounded to a double first, as
  ``Number()`` does), truncated and wrapped to 32 bits; anything else, NaN and the
  infinities are 0. No I/O.
"""

import re

# JavaScript's StringToNumber grammar (after trimming its white space), for ``int32``
_JS_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Infinity"
                        r"|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
            "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def int32(value):
    """``value | 0`` as Node coerces a status code: a number or a numeric string (JavaScript's
    grammar: ``" 404 "``, ``"4e2"``, ``"0x194"``, ``"201.5"``) truncated and wrapped to 32
    bits; anything else (``"404abc"``, NaN, Infinity, None) is 0."""
    if isinstance(value, str):
        text = value.strip(_JS_SPACE)
        if not text:
            return 0
        if _JS_NUMBER.fullmatch(text) is None:
            return 0
        try:  # (a JavaScript number is a double: a long hex string is rounded as one)
            value = float(int(text, 0)) if text[:2] in ("0x", "0X", "0o", "0O", "0b", "0B") else float(text)
        except OverflowError:
            return 0  # (Infinity)
    elif not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return 0
        value = int(value)
    value %= 1 << 32
    return value - (1 << 32) if value >= 1 << 31 else value
