"""The access log's check of the client's text: which characters a line must not hold
raw, their ``\\xHH`` form, and the bounded memory of texts found clean.

Rules:
- Text the client chose never forges a field or a line: a double quote, a backslash, a
  control character and every byte outside printable ASCII is written as ``\\xHH``
  (as nginx does), so a value cannot close the quotes around it.
- Texts found clean are remembered (``ClientText``, bounded): the usual line pays one
  ``in`` per field; a text not seen before is searched once.
- A header's field (``{i[name]}``, ``{o[name]}``) reads its value into a local of its
  own (``header_locals``), checked as the client's text; its name reaches the compiled
  code as a constant, never as source.
- A header's value that is a list (a response's field set more than once, a request's
  ``Set-Cookie``) is written as its items joined with ``, ``.
"""

import re

# anything but printable ASCII other than the double quote and the backslash
_UNSAFE = re.compile(r'[^ !#-\[\]-~]')


def _hex(match):
    char = match.group()
    code = ord(char)
    data = bytes((code,)) if code < 256 else char.encode("utf-8", "surrogatepass")
    return "".join(f"\\x{byte:02X}" for byte in data)


def escape(text):
    """``text`` with each character a log line must not hold raw as ``\\xHH`` (of its
    byte, or of each byte of its UTF-8 form past U+00FF)."""
    return _UNSAFE.sub(_hex, str(text))


SAFE_KEPT = 1024  # clean texts a compiled line remembers (all forgotten when full)
SAFE_LENGTH = 512  # characters of the longest text remembered


class ClientText:
    """The check of the client's text for one compiled line: which texts stand raw in a
    line is remembered (``safe``: at most ``SAFE_KEPT`` texts of at most
    ``SAFE_LENGTH`` characters, all forgotten when full), so the usual line, whose URL,
    Referer and User-Agent were seen before, pays one ``in`` per field; a text not seen
    before is searched once."""

    def __init__(self):
        self.safe = {"-": True}

    def check(self, *texts):
        """``texts``, each escaped where it must be; the clean ones are remembered."""
        out = []
        safe = self.safe
        for text in texts:
            text = str(text)
            if _UNSAFE.search(text) is None:
                if len(text) <= SAFE_LENGTH:
                    if len(safe) >= SAFE_KEPT:
                        safe.clear()
                        safe["-"] = True
                    safe[text] = True
                out.append(text)
            else:
                out.append(escape(text))
        return out


# A header's field: ``{i[name]}`` the request's (as ``req.headers`` holds it: a repeated
# field joined as Node joins it), ``{o[name]}`` the response's (``res.get_header``: a list
# joined with ", "); any case; "-" when absent. Its value is read into a local of its own and
# checked as the client's text; its name reaches the code as a constant, never as source.
_HEADER = re.compile(r"([io])\[([^\]]*)\]\Z")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def header_field(name):
    """(``i`` or ``o``, the lower-case header name) of a header's field, else None; raises
    ValueError for a header name no field can have."""
    match = _HEADER.match(name)
    if match is None:
        return None
    header = match.group(2)
    if not _TOKEN.match(header) or header.isdigit():  # (str.format reads digits as a list index)
        raise ValueError(f"{{{name}}}: {header!r} is no header name (a token, not only digits)")
    return match.group(1), header.lower()


def response_header(res, name):
    """``name``'s value on ``res`` (a ``{o[name]}`` field), ``-`` when it has none or sent
    no head (a ``499``: what the app set never went out; nginx's ``$sent_http_x``)."""
    value = res.get_header(name)
    return "-" if value is None or not res.headers_sent else joined(value)


def joined(value):
    """A header's value, a list's items joined with ``, ``."""
    return ", ".join(map(str, value)) if value.__class__ is list else value


def header_locals(parts, constants, fields):
    """{field as written: (its local, the expression that reads it)} of the header fields
    in ``parts`` (those of ``fields`` are none); each name a constant in ``constants``."""
    found, locals_of = {}, {}
    for _, name, _, _ in parts:
        if name is None or name in found or name in fields:
            continue
        kind, header = header_field(name)
        if (kind, header) not in locals_of:
            local = f"log_{kind}{len(locals_of)}"
            constants[f"header_{local}"] = header
            read = f'req.headers.get(header_{local}, "-")'  # (Node's headers: only Set-Cookie is a list)
            locals_of[kind, header] = (local, (f"joined({read})" if header == "set-cookie" else read) if kind == "i"
                                       else f"response_header(res, header_{local})")
        found[name] = locals_of[kind, header]
    if found:
        constants["response_header"], constants["joined"] = response_header, joined
    return found


class AnyHeader(dict):
    """What a header field reads when a format is checked: every name's value is ``-``."""

    def __missing__(self, name):
        return "-"


HEADER_SAMPLES = {"i": AnyHeader(), "o": AnyHeader()}
