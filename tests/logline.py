"""The default access log format as a reader splits it: ``{h} - - [{t}] "{r}" {s} {b}
"{f}" "{a}" {D}``, where a quoted field holds no raw double quote or backslash, only
``\\xHH`` escapes (``unescape`` gives back the bytes they stand for)."""

import os
import re

QUOTED = r'((?:[^"\\]|\\x[0-9A-F]{2})*)'
LINE = re.compile(r'(\S+) - - \[([^\]]+)\] "' + QUOTED + r'" (\d{3}) (\S+) "' + QUOTED + r'" "' + QUOTED
                  + r'" (\d+)')


def unescape(text):
    """The bytes an escaped field stands for (the rest of the line is UTF-8)."""
    out = bytearray()
    for piece in re.split(r"(\\x[0-9A-F]{2})", text):
        out += bytes((int(piece[2:], 16),)) if re.fullmatch(r"\\x[0-9A-F]{2}", piece) else piece.encode()
    return bytes(out)


def log_lines(path):
    """The lines of the access log at ``path`` so far ([] before it exists)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8").splitlines()
