"""Hex and base64 text to bytes, as Node's ``Buffer.from(text, encoding)`` reads them.

Rules (Node 20's decoders, src/string_bytes.cc and base64-inl.h): each character counts
by its low byte (``U+0131`` is ``1``), as Node's decoders cast a UTF-16 code unit.
Hex reads pairs of digits and stops at the first pair with a character that is no hex
digit (``"12zz34"`` is ``<12>``); an odd last digit is dropped. Base64 (and base64url:
one decoder, which takes ``+/`` and ``-_`` alike) skips every character outside the
alphabet (whitespace, ``?``), stops at the first ``=``, and decodes what it kept: a last
group of one character gives nothing, of two one byte, of three two bytes. Neither
raises, as Node's never throws for such text."""

import binascii
import re

_HEX_PREFIX = re.compile("[0-9a-fA-F]*")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BASE64_KEEP = {code: None for code in range(256)}  # (every low byte not in the alphabet: dropped)
_BASE64_KEEP.update({ord(c): c for c in _ALPHABET})
_BASE64_KEEP.update({ord("-"): "+", ord("_"): "/"})


def _low_bytes(text):
    """``text`` with each UTF-16 code unit as its low byte (a latin-1 ``str``)."""
    return text if text.isascii() else text.encode("utf-16-le", "surrogatepass")[::2].decode("latin-1")


def from_hex(text):
    text = _low_bytes(text)
    end = _HEX_PREFIX.match(text).end()
    return bytes.fromhex(text[:end - end % 2])


def from_base64(text):
    text = _low_bytes(text)
    stop = text.find("=")
    if stop >= 0:
        text = text[:stop]
    text = text.translate(_BASE64_KEEP)
    rest = len(text) % 4
    if rest == 1:
        text = text[:-1]  # (six bits: no byte)
    elif rest:
        text += "=" * (4 - rest)
    return binascii.a2b_base64(text)
