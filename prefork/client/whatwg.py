"""The client's URL parser: the WHATWG URL standard's rules (Node's ``new URL()``, which
``http.request(url)`` uses) for the special schemes, ``http:`` among them.

Rules:
- A URL string is read as Node reads it, not as ``urllib.parse`` does: leading and
  trailing C0 controls and spaces are dropped, tabs and newlines anywhere are removed;
  a backslash is a slash (``http://a.com\\@b.com/`` is host ``a.com``, path
  ``/@b.com/``); the slashes after ``http:`` may be missing or doubled; the user
  information ends at the authority's last ``@``; the path's dot segments (``..``,
  ``%2e``) are resolved; what the standard percent-encodes in a path or query
  (spaces, quotes, ``<``, ``>``, non-ASCII as UTF-8, ...) is percent-encoded.
- A host is checked as the standard checks it: percent-decoded, a forbidden code point
  (space, NUL, ``%``, ``<``, ``|``, ...) or an empty host is an invalid URL; a name is
  lower-cased (non-ASCII through IDNA); a name ending in a number is an IPv4 address
  in any of its forms (``0x7f.1`` is ``127.0.0.1``) or invalid; ``[...]`` is an IPv6
  address, written back in its canonical form.
- A URL the standard refuses raises ``ValueError``; so does a scheme that is not
  special (only ``http:``/``https:``, ``ws:``/``wss:`` and ``ftp:`` are parsed here;
  ``file:`` and the rest raise ``UnsupportedScheme`` with their scheme).
- The fragment is dropped, as Node's ``urlToHttpOptions`` drops it.
- Differences from the standard: IDNA is Python's (IDNA 2003, where the standard uses
  UTS 46), kept only where it gives the name back unchanged once compatibility forms
  are folded (fullwidth letters are their ASCII ones): a name the two would map apart
  (``faß.de``, a joiner or soft hyphen, a character that makes a label of its own, a
  label that begins with a mark, a character Unicode 3.2 lacks, one that breaks the
  Bidi rule) is refused, never sent to another host than Node's; so is an empty label
  or one over 63 bytes in a non-ASCII name; ``xn--`` labels are not checked.
"""

import ipaddress
import re
import unicodedata

__all__ = ["ParsedURL", "UnsupportedScheme", "parse", "percent_decode"]

_SPECIAL = {"http:": 80, "https:": 443, "ws:": 80, "wss:": 443, "ftp:": 21}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_STRIP = "".join(map(chr, range(0x21)))  # C0 controls and space
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_FORBIDDEN_DOMAIN = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
_HEX2 = re.compile(rb"%([0-9A-Fa-f]{2})")

# percent-encode sets (bytes below 0x20 and above 0x7e are always encoded)
_QUERY_SET = frozenset(b" \"#<>'")  # the special-query set
_PATH_SET = frozenset(b" \"#<>?`{}")
_USERINFO_SET = _PATH_SET | frozenset(b"/:;=@[\\]^|")


class UnsupportedScheme(ValueError):
    """A URL whose scheme this parser does not read (``file:``, ``mailto:``, ...)."""

    def __init__(self, scheme):
        super().__init__(f"unsupported scheme {scheme!r}")
        self.scheme = scheme


class ParsedURL:
    """The parts Node's ``urlToHttpOptions`` takes: ``protocol`` (``"http:"``),
    ``hostname`` (an IPv6 address without its brackets), ``port`` (an int, or None for
    the scheme's default), ``path`` (pathname + search), ``username`` and ``password``
    (percent-encoded, as the URL holds them)."""

    __slots__ = ("protocol", "hostname", "port", "path", "username", "password")

    def __init__(self, protocol, hostname, port, path, username, password):
        self.protocol, self.hostname, self.port = protocol, hostname, port
        self.path, self.username, self.password = path, username, password


def _encode(text, encode_set):
    """``text`` percent-encoded with ``encode_set`` (UTF-8; ``%`` itself is kept)."""
    if text.isascii() and not any(ord(ch) < 0x21 or ord(ch) == 0x7f or ord(ch) in encode_set for ch in text):
        return text
    return "".join(chr(byte) if 0x20 < byte < 0x7f and byte not in encode_set else f"%{byte:02X}"
                   for byte in text.encode("utf-8"))


def percent_decode(text):
    """Bytes of ``text`` with each ``%XX`` decoded (a ``%`` not followed by two hex
    digits is kept, as the standard keeps it)."""
    data = text.encode("utf-8")
    return _HEX2.sub(lambda match: bytes((int(match.group(1), 16),)), data) if b"%" in data else data


_UNICODE_3_2 = unicodedata.ucd_3_2_0  # the Unicode version of IDNA 2003 (and of Python's codec)
_RADIX_DIGITS = {10: frozenset("0123456789"), 8: frozenset("01234567"), 16: frozenset("0123456789abcdefABCDEF")}


def _ipv4_number(part):
    """The standard's IPv4 number: decimal, ``0x`` hex or leading-zero octal; None if
    invalid (an empty part; a digit outside the radix, Python's own ``0x``/``0o`` prefixes
    after the standard's included)."""
    if not part:
        return None
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0
    if not _RADIX_DIGITS[radix].issuperset(part):
        return None
    try:
        return int(part, radix)
    except ValueError:  # (more digits than int() reads)
        return None


def _ends_in_number(domain):
    parts = domain.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    return (last.isascii() and last.isdigit()) or _ipv4_number(last) is not None


def _ipv4(domain):
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        raise ValueError("Invalid URL: too many parts in an IPv4 address")
    numbers = []
    for part in parts:
        number = None if part == "" else _ipv4_number(part)
        if number is None:
            raise ValueError(f"Invalid URL: bad IPv4 part {part!r}")
        numbers.append(number)
    if any(number > 255 for number in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError("Invalid URL: IPv4 part out of range")
    address = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        address += number * 256 ** (3 - index)
    return str(ipaddress.IPv4Address(address))


def _ipv6_text(packed):
    """The standard's IPv6 serializer: eight pieces in lower-case hex, the first longest
    run of two or more zero pieces as ``::`` (an IPv4-mapped address too: ``::ffff:102:304``,
    whatever the Python version's own text for it)."""
    pieces = [packed[i] << 8 | packed[i + 1] for i in range(0, 16, 2)]
    start, length, run_start = -1, 1, None
    for index, piece in enumerate(pieces + [1]):
        if piece == 0 and run_start is None:
            run_start = index
        elif piece != 0 and run_start is not None:
            if index - run_start > length:
                start, length = run_start, index - run_start
            run_start = None
    if start < 0:
        return ":".join(f"{piece:x}" for piece in pieces)
    return (":".join(f"{piece:x}" for piece in pieces[:start]) + "::"
            + ":".join(f"{piece:x}" for piece in pieces[start + length:]))


def _host(text):
    """The standard's host parser for a special scheme: the host as the URL serializes
    it (an IPv6 address without brackets)."""
    if text.startswith("["):
        if not text.endswith("]") or "%" in text:
            raise ValueError("Invalid URL: bad IPv6 address")
        try:
            packed = ipaddress.IPv6Address(text[1:-1]).packed
        except ValueError:
            raise ValueError("Invalid URL: bad IPv6 address") from None
        return _ipv6_text(packed)
    try:
        domain = percent_decode(text).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("Invalid URL: host is not UTF-8") from None
    if domain.isascii():
        domain = domain.lower()
    else:
        domain = _idna(domain)
    if not domain or _FORBIDDEN_DOMAIN.search(domain):
        raise ValueError("Invalid URL: forbidden character in host")
    if _ends_in_number(domain):
        return _ipv4(domain)
    return domain


def _idna(domain):
    """A non-ASCII name in ASCII (Python's IDNA 2003), only when that is the name itself:
    one whose labels IDNA 2003 maps to something else (``ß`` to ``ss``, ``⒈`` to
    ``1.``, a joiner dropped, fullwidth or compatibility forms), where the standard's
    UTS 46 maps it otherwise or refuses it, is refused, never sent to another host."""
    dotted = domain.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    if any(_UNICODE_3_2.category(ch) == "Cn" for ch in dotted if ch > "\x7f"):
        # (a character IDNA 2003 does not know: Python's codec lets it through unmapped)
        raise ValueError("Invalid URL: a character unknown to IDNA 2003 in the host")
    # the name as both mappings see it: compatibility forms folded (fullwidth letters
    # are their ASCII ones), as long as that makes no new label
    folded = unicodedata.normalize("NFKC", dotted).lower()
    if folded.count(".") != dotted.count("."):
        raise ValueError("Invalid URL: a character in the host that makes a label of its own")
    if any(label and unicodedata.category(label[0]).startswith("M") for label in folded.split(".")):
        raise ValueError("Invalid URL: a host label that begins with a combining mark")
    if not _bidi_ok(folded):
        raise ValueError("Invalid URL: a host that breaks the Bidi rule (RFC 5893)")
    try:
        ascii_name = dotted.encode("idna").decode("ascii").lower()
        back = ascii_name.encode("ascii").decode("idna")
    except UnicodeError:
        raise ValueError("Invalid URL: bad international domain name") from None
    if back != folded:
        raise ValueError("Invalid URL: an international domain name that IDNA 2003 maps")
    return ascii_name


_RTL = frozenset(("R", "AL", "AN"))
_RTL_ALLOWED = frozenset(("R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"))
_LTR_ALLOWED = frozenset(("L", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"))


def _bidi_ok(name):
    """RFC 5893's Bidi rule for every label of a name with a right-to-left label (UTS 46's
    CheckBidi, which the standard asks for); a name without one passes."""
    labels = [[unicodedata.bidirectional(ch) for ch in label] for label in name.split(".") if label]
    if not any(_RTL.intersection(classes) for classes in labels):
        return True
    for classes in labels:
        ending = [cls for cls in classes if cls != "NSM"][-1:] or ["NSM"]
        if classes[0] in ("R", "AL"):
            if not _RTL_ALLOWED.issuperset(classes) or ending[0] not in ("R", "AL", "EN", "AN") \
                    or ("EN" in classes and "AN" in classes):
                return False
        elif classes[0] == "L":
            if not _LTR_ALLOWED.issuperset(classes) or ending[0] not in ("L", "EN"):
                return False
        else:
            return False
    return True


def _path(text):
    """The path's segments, percent-encoded, dot segments resolved (``\\`` is ``/``)."""
    segments = []
    pieces = text.replace("\\", "/").split("/")
    # (text starts with a slash, or is empty: the path start state's)
    if pieces and pieces[0] == "" and len(pieces) > 1:
        pieces = pieces[1:]
    last = len(pieces) - 1
    for index, piece in enumerate(pieces):
        piece = _encode(piece, _PATH_SET)
        lowered = piece.lower()
        if lowered in ("..", ".%2e", "%2e.", "%2e%2e"):
            if segments:
                segments.pop()
            if index == last:
                segments.append("")
        elif lowered in (".", "%2e"):
            if index == last:
                segments.append("")
        else:
            segments.append(piece)
    return "/" + "/".join(segments)


def parse(url):
    """``url`` (a str) read by the WHATWG rules of its special scheme: a ``ParsedURL``.
    ValueError when the standard refuses it; UnsupportedScheme for a scheme not read here."""
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: U+FFFD, as a USVString has them
        url = url.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    url = url.strip(_STRIP).translate(_TAB_NEWLINE)
    match = _SCHEME.match(url)
    if match is None:
        raise ValueError("Invalid URL: no scheme")
    scheme = match.group().lower()
    if scheme not in _SPECIAL:
        raise UnsupportedScheme(scheme)
    rest = url[match.end():].lstrip("/\\")  # any slashes (or none) before the authority
    rest = rest.split("#", 1)[0]
    end = len(rest)
    for stop in "/\\?":
        found = rest.find(stop)
        if found != -1 and found < end:
            end = found
    authority, rest = rest[:end], rest[end:]
    username = password = ""
    at = authority.rfind("@")
    if at != -1:
        credentials, authority = authority[:at], authority[at + 1:]
        user, _, secret = credentials.partition(":")
        username, password = _encode(user, _USERINFO_SET), _encode(secret, _USERINFO_SET)
    bracket = authority.rfind("]")
    colon = authority.find(":", bracket + 1 if bracket != -1 else 0)
    port = None
    if colon != -1:
        authority, digits = authority[:colon], authority[colon + 1:]
        if digits:
            if not (digits.isascii() and digits.isdigit()):
                raise ValueError("Invalid URL: bad port")
            port = int(digits)
            if port > 65535:
                raise ValueError("Invalid URL: port out of range")
            if port == _SPECIAL[scheme]:
                port = None
    if not authority:
        raise ValueError("Invalid URL: no host")
    hostname = _host(authority)
    path, _, query = rest.partition("?")
    path = _path(path)
    if query:
        path += "?" + _encode(query, _QUERY_SET)
    return ParsedURL(scheme, hostname, port, path, username, password)
