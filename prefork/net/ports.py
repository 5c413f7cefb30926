"""The check of the port ``Socket.connect`` is given (Node 20's ``validatePort``), and
Node's way of telling, in an error's message, the value it refused.

Rules:
- A port is a whole number 0-65535, or a string JavaScript's ``Number()`` reads as one
  (JavaScript's blanks around it, not Python's; ASCII digits only; a sign, an exponent,
  ``0x``/``0o``/``0b``): ERR_SOCKET_BAD_PORT (a ValueError) if not, a blank string too;
  another type (a bool, None, a list) is ERR_INVALID_ARG_TYPE (a TypeError), as Node's
  ``net.connect`` throws.
- ``described(value)`` is Node's "Received ..." part of such a message
  (``determineSpecificType``): ``null``; ``type boolean (true)``; ``type number (1e+21)``,
  the number as JavaScript writes it (``NaN``, ``Infinity``, ``70000`` for ``70000.0``);
  ``type string ('http')``, a string of more than 28 UTF-16 units cut to 25 (not in the
  middle of a surrogate pair, where Node's keeps half of it) and ``...``, in JSON's quotes
  when it holds a ``'``; else ``an instance of`` its class (a list an
  ``Array``, a dict an ``Object``, as JavaScript names them). ``out_of_range(number)``
  is ERR_OUT_OF_RANGE's (``NaN``, ``-1_099_511_627_776``, ``-1e_+22``).
"""

import json
import math
from decimal import Decimal

_JS_CLASSES = {list: "Array", tuple: "Array", dict: "Object"}
_RADIX = ("0x", "0o", "0b")
# JavaScript's white space and line terminators, what its Number() strips from a string
_JS_BLANKS = "\t\n\v\f\r \xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"


def coded(kind, code, message):
    """An exception of ``kind`` carrying Node's error ``code`` (raised by the caller)."""
    err = kind(message)
    err.code = code
    return err


def js_number(value):
    """A number as JavaScript's ``String(number)`` writes it."""
    try:
        value = float(value)
    except OverflowError:  # (an int past a double's range: JavaScript's would be infinite)
        value = math.inf if value > 0 else -math.inf
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()  # (repr: the shortest digits, as JavaScript's)
    point = len(digits) + exponent  # the value is 0.DIGITS times 10 ** point (ECMAScript's n)
    digits = "".join(map(str, digits)).rstrip("0")
    if len(digits) <= point <= 21:
        text = digits + "0" * (point - len(digits))
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        text = (digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
                + ("e+" if power > 0 else "e-") + str(abs(power)))
    return ("-" if sign else "") + text


def described(value):
    """``value`` as Node's messages name what they received (module rules)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"type boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"type number ({js_number(value)})"
    if isinstance(value, str):
        units = value.encode("utf-16-le", "surrogatepass")
        if len(units) > 56:  # (28 UTF-16 units)
            cut = units[:50].decode("utf-16-le", "surrogatepass")
            if "\ud800" <= cut[-1] <= "\udbff":  # half a pair: left out (Node's lone half could not be printed)
                cut = cut[:-1]
            value = cut + "..."
        # (Node puts it between single quotes as it is, nothing escaped; in JSON's when it holds one)
        quoted = json.dumps(value, ensure_ascii=False) if "'" in value else "'" + value + "'"
        return f"type string ({quoted})"
    if callable(value) and getattr(value, "__name__", None) and not isinstance(value, type):
        return f"function {value.__name__}"
    return f"an instance of {_JS_CLASSES.get(type(value), type(value).__name__)}"


def out_of_range(number):
    """``number`` as Node's ERR_OUT_OF_RANGE names what it received: JavaScript's way, a
    whole number past 2**32 with a ``_`` between each three digits."""
    text = js_number(number)
    if math.isfinite(number) and abs(number) > 2 ** 32 and number == int(number):
        start, end, groups = (text[0] == "-"), len(text), []
        while end >= start + 4:  # (Node's addNumericalSeparator, on the text as it is: "-1e_+22")
            groups.append(text[end - 3:end])
            end -= 3
        text = "_".join([text[:end]] + groups[::-1])
    return text


def checked_port(port):
    """The port to connect to, checked as Node's ``net.connect`` checks it (module rules),
    before a system socket is made."""
    if isinstance(port, bool) or not isinstance(port, (int, float, str)):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                    f'The "options.port" property must be one of type number or string. Received {described(port)}')
    number = _js_port_number(port) if isinstance(port, str) else port
    if not 0 <= number <= 65535 or number != int(number):  # (NaN too)
        raise coded(ValueError, "ERR_SOCKET_BAD_PORT", f"Port should be >= 0 and < 65536. Received {described(port)}.")
    return int(number)


def _js_port_number(text):
    """What JavaScript's ``+text`` is, for a port (NaN for a blank string: Node refuses it)."""
    text = text.strip(_JS_BLANKS)  # (not Python's blanks: "\x1c80" and "\x8580" are NaN, "\ufeff80" 80)
    # (Python's float() takes "1_0" and other scripts' digits, "８０", JavaScript's Number() does not)
    if not text or "_" in text or not text.isascii():
        return math.nan
    try:
        return float(text)
    except ValueError:
        pass
    if text[:2].lower() in _RADIX:
        try:
            return int(text, 0)
        except ValueError:
            pass
    return math.nan
