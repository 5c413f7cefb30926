"""Node's ``StringDecoder`` for ``socket.set_encoding``: bytes read become ``str`` chunks.

Rules:
- A character split between two reads is held until its last byte comes, never decoded
  in halves (utf8, utf16le); base64 holds the bytes short of a group of three.
- At the end of the stream what is held comes out: an incomplete utf8 character as
  U+FFFD, the base64 of a short group with its padding. utf16le is Node's: a lone
  surrogate (in the stream, or a high one held at its end) stays a lone surrogate, and
  an odd byte left at the end is dropped.
- The encodings are Node's: ``utf8``/``utf-8``, ``utf16le``/``ucs2``, ``latin1``/``binary``,
  ``ascii`` (the high bit dropped), ``hex``, ``base64``, ``base64url``; any other raises
  ERR_UNKNOWN_ENCODING as Node's ``setEncoding`` does.
"""

import base64
import codecs

_INCREMENTAL = {"utf8": "utf-8", "utf-8": "utf-8", "utf16le": "utf-16-le", "utf-16le": "utf-16-le",
                "ucs2": "utf-16-le", "ucs-2": "utf-16-le"}
_ASCII = bytes(b & 0x7F for b in range(256))


class TextDecoder:
    def __init__(self, encoding):
        name = encoding.lower()
        self.name = name
        self._held = b""
        codec = _INCREMENTAL.get(name)
        self._utf16 = codec == "utf-16-le"
        errors = "surrogatepass" if self._utf16 else "replace"  # (a JS string keeps lone surrogates)
        self._incremental = codecs.getincrementaldecoder(codec)(errors) if codec else None
        if codec is None and name not in ("latin1", "binary", "ascii", "hex", "base64", "base64url"):
            err = TypeError(f"Unknown encoding: {encoding}")
            err.code = "ERR_UNKNOWN_ENCODING"
            raise err

    def decode(self, data):
        if self._incremental is not None:
            return self._incremental.decode(data)
        name = self.name
        if name in ("latin1", "binary"):
            return data.decode("latin-1")
        if name == "ascii":
            return data.translate(_ASCII).decode("latin-1")
        if name == "hex":
            return data.hex()
        data = self._held + data
        whole = len(data) - len(data) % 3
        self._held = data[whole:]
        return self._base64(data[:whole])

    def end(self):
        if self._incremental is not None:
            if self._utf16:  # what is held: a high surrogate (kept) and an odd byte (dropped)
                held = self._incremental.getstate()[0]
                self._incremental.reset()
                return held[:len(held) & ~1].decode("utf-16-le", "surrogatepass")
            return self._incremental.decode(b"", True)
        held, self._held = self._held, b""
        return self._base64(held) if held else ""

    def _base64(self, data):
        if self.name == "base64":
            return base64.b64encode(data).decode("ascii")
        return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
