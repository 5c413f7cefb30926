"""TLS settings: the server's ``ssl.SSLContext`` built from plain values, and which
listeners speak TLS.

Rules:
- Contexts are built from plain values (a settings dict), so the same code checks a
  configuration at load (``ContextError`` names the setting at fault) and serves it.
- ALPN offers ``http/1.1``, then ``http/1.0`` (``curl --http1.0``'s offer, which nginx takes); client-initiated renegotiation and compression are off;
  the oldest version is ``tls_min_version`` (TLS 1.2 by default).
- A key is never asked for on a terminal: an encrypted key needs ``keyfile_password``.
  A key OpenSSL 3 cannot decrypt whatever the password (encrypted with DES, RC2, RC4,
  Blowfish, CAST5, IDEA or SEED, which need its legacy provider, not loaded) is named
  as such, with the algorithm read from the key's PEM, never called a wrong password.
- ``ciphers`` is set before the certificate is loaded, so an ``@SECLEVEL=`` in it is the
  level the certificate is checked at; a certificate below that level is named as such,
  never blamed on the key.
- A certificate file OpenSSL refuses without a reason of its own ("PEM lib") because it
  is cut (copied or written while it was read, at a reload as at the start: a BEGIN
  line without its END) names the certificate at fault; other damage keeps OpenSSL's words.
- The certificate, key and CA files are regular files: each is opened without blocking
  first, and a FIFO or a device is refused (the master would wait on it for good).
- With ``verify_client``, the certificate request names no CAs: ``ssl`` has no call for
  OpenSSL's client CA list, and the context's C object is not reached into.
"""

import base64
import binascii
import errno
import hashlib
import os
import re
import ssl
import stat

_TAGS = re.compile(r"^\[[^\]]*\]|\([^()]*\.c:\d+\)$")  # "[X509] " and " (_ssl.c:4154)" in an SSLError's text
ALPN = ("http/1.1", "http/1.0")  # in the server's order of preference (nginx also takes http/1.0)
VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
# OpenSSL's refusals of a certificate (or of one in its chain) below the context's security
# level, which Python's ssl sets at 2; Node's is OpenSSL's default, 1, which takes 1024-bit
# RSA keys (a key too small) but no SHA-1 signature (a digest too weak) either
_WEAK = {"EE_KEY_TOO_SMALL": "the server certificate's key is too small (RSA needs {bits} bits)",
         "CA_KEY_TOO_SMALL": "a CA certificate in the chain has a key too small (RSA needs {bits} bits)",
         "CA_MD_TOO_WEAK": "a certificate is signed with a digest too weak (SHA-1 or MD5)"}
_RSA_BITS = {1: 1024, 2: 2048, 3: 3072, 4: 7680, 5: 15360}  # the smallest RSA key each level takes
# ciphers of encrypted keys that OpenSSL 3 moved to its legacy provider: a traditional PEM
# key's DEK-Info names, and a PKCS#8 key's algorithm identifiers (DER OIDs: PBES2's cipher,
# PKCS#5 v1.5 and PKCS#12 password-based schemes); 3DES, AES, Camellia and ARIA still read
_LEGACY_PEM = ("DES-CBC", "DES-ECB", "DES-CFB", "DES-OFB", "DESX-CBC", "RC2-", "RC4", "BF-", "CAST5-",
               "CAST-", "IDEA-", "SEED-", "RC5-")
_LEGACY_OIDS = {
    "06052b0e030207": "DES-CBC", "06082a864886f70d0302": "RC2-CBC", "06092b0601040197550102": "BF-CBC",
    "06092a864886f67d07420a": "CAST5-CBC", "060b2b06010401813c07010102": "IDEA-CBC", "06082a831a8c9a440104": "SEED-CBC",
    "06092a864886f70d010501": "PBE-MD2-DES", "06092a864886f70d010503": "PBE-MD5-DES",
    "06092a864886f70d010504": "PBE-MD2-RC2-64", "06092a864886f70d010506": "PBE-MD5-RC2-64",
    "06092a864886f70d01050a": "PBE-SHA1-DES", "06092a864886f70d01050b": "PBE-SHA1-RC2-64",
    "060a2a864886f70d010c0101": "PBE-SHA1-RC4-128", "060a2a864886f70d010c0102": "PBE-SHA1-RC4-40",
    "060a2a864886f70d010c0105": "PBE-SHA1-RC2-128", "060a2a864886f70d010c0106": "PBE-SHA1-RC2-40",
}
VERIFY = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


class ContextError(ValueError):
    """A TLS setting that cannot be used: ``key`` is the setting's name."""

    def __init__(self, key, message):
        super().__init__(message)
        self.key = key


def _readable(key, path):
    """The first MiB of the file at ``path``. Opened without blocking: a FIFO (whose open
    waits for a writer, and whose reads OpenSSL would then wait on) or a device is refused,
    so neither the start, a check nor a reload's check in the master waits on one."""
    if not path:
        raise ContextError(key, "must be set")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as fh:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            if not stat.S_ISREG(mode):
                raise ContextError(key, f"{path}: not a regular file (a FIFO or a device): give the file itself")
            head = fh.read(1 << 20)
    except OSError as exc:
        raise ContextError(key, f"cannot read {path}: {(exc.strerror or str(exc)).lower()}") from None
    return head


def build_context(values):
    """An ``ssl.SSLContext`` for the server side from ``values`` (certfile, keyfile,
    keyfile_password, ca_certs, verify_client, tls_min_version, ciphers); raises
    ContextError naming the setting that is wrong."""
    certfile, keyfile = values.get("certfile"), values.get("keyfile") or None
    password = values.get("keyfile_password") or None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
    context.minimum_version = VERSIONS[values.get("tls_min_version") or "TLSv1.2"]
    context.set_alpn_protocols(list(ALPN))
    # before the certificate: an ``@SECLEVEL=`` in the list is the level it is loaded at
    ciphers = values.get("ciphers") or ""
    if ciphers:
        try:
            context.set_ciphers(ciphers)
        except ssl.SSLError:
            raise ContextError("ciphers", f"no cipher can be selected from {ciphers!r}") from None
    head = _readable("certfile", certfile)
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise ContextError("certfile", f"{certfile} holds no PEM certificate")
    try:
        ssl.create_default_context(cafile=certfile)  # parses every certificate in the file
    except ssl.SSLError as exc:
        damage = _cut(head)
        raise ContextError("certfile", f"{certfile}: {damage}" if damage else
                           f"{certfile}: not a valid certificate ({_reason(exc)})") from None
    key_source = keyfile or certfile
    key_key = "keyfile" if keyfile else "certfile"
    key_head = _readable("keyfile", keyfile) if keyfile is not None else head
    encrypted = b"ENCRYPTED" in key_head
    if encrypted and not password:
        raise ContextError(key_key, f"the key in {key_source} is encrypted: keyfile_password is needed")
    try:
        # a callable, so OpenSSL never prompts on a terminal for a password
        context.load_cert_chain(certfile, keyfile, lambda: password or b"")
    except ssl.SSLError as exc:
        weak = _WEAK.get(getattr(exc, "reason", None))
        if weak:
            level = context.security_level
            hint = ("replace it, or lower the level to Node's (ciphers = \"DEFAULT:@SECLEVEL=1\")"
                    if level > 1 and "KEY" in exc.reason else "replace it")
            weak = weak.format(bits=_RSA_BITS.get(level, "more"))
            raise ContextError("certfile", f"{certfile}: {weak} for OpenSSL's security level {level}: "
                                           f"{hint}") from None
        if "KEY_VALUES_MISMATCH" in str(exc) or "NO_CERTIFICATE_ASSIGNED" in str(exc):
            # (OpenSSL's reason for a key of another type than the certificate's, RSA
            # against ECDSA, the latter)
            raise ContextError(key_key, f"the key in {key_source} does not match the certificate in {certfile} "
                                        "(its first certificate, which must be the server's)") from None
        if encrypted:
            legacy = _legacy_cipher(key_head)
            if legacy is not None:
                raise ContextError(key_key, f"the key in {key_source} is encrypted with {legacy}, which OpenSSL 3 "
                                            "reads only with its legacy provider (not loaded): re-encrypt it with "
                                            "AES (openssl pkey -provider legacy -provider default -in "
                                            f"{key_source} -aes256 -out NEW.key)") from None
            raise ContextError("keyfile_password", f"wrong password for the key in {key_source}") from None
        if keyfile is None:
            raise ContextError("certfile", f"{certfile} holds no private key matching its certificate (set "
                                           "keyfile)") from None
        raise ContextError("keyfile", f"{keyfile} holds no usable private key") from None
    except (OSError, TypeError, ValueError) as exc:
        raise ContextError(key_key, f"{key_source}: {exc}") from None
    verify = values.get("verify_client") or "none"
    ca_certs = values.get("ca_certs") or None
    if verify != "none" and ca_certs is None:
        raise ContextError("verify_client", f"{verify} needs ca_certs (the CAs client certificates are checked "
                                            "against)")
    if ca_certs is not None:
        _readable("ca_certs", ca_certs)
        try:
            context.load_verify_locations(cafile=ca_certs)
        except ssl.SSLError as exc:
            raise ContextError("ca_certs", f"{ca_certs}: not a valid CA bundle ({_reason(exc)})") from None
    context.verify_mode = VERIFY[verify]
    return context


def _legacy_cipher(pem):
    """The cipher the encrypted key in ``pem`` (bytes) is encrypted with, when OpenSSL 3
    reads it only with its legacy provider and that provider is not loaded; else None."""
    text = pem.decode("latin-1")
    found = re.search(r"^DEK-Info:[ \t]*([A-Za-z0-9-]+)", text, re.M)  # a traditional PEM key
    if found:
        name = found.group(1).upper()
        legacy = name if name.startswith(_LEGACY_PEM) else None
    else:  # PKCS#8: the algorithm identifier its encrypted bytes follow
        body = re.search(r"-----BEGIN ENCRYPTED PRIVATE KEY-----([A-Za-z0-9+/=\s]*)-----END", text)
        try:
            der = base64.b64decode("".join(body.group(1).split())) if body else b""
        except (binascii.Error, ValueError):
            der = b""
        algorithm = _first_inner(der)
        legacy = next((name for oid, name in _LEGACY_OIDS.items() if bytes.fromhex(oid) in algorithm), None)
    if legacy is None:
        return None
    try:
        hashlib.new("md4")  # (MD4 is in the legacy provider too: it reads when that is loaded)
    except ValueError:
        return legacy
    return None


def _first_inner(der):
    """The first element (its DER bytes) of the SEQUENCE ``der`` starts with; b"" when it
    does not read as one."""
    at = 0
    for depth in range(2):  # the outer SEQUENCE's header, then the inner one's
        if len(der) < at + 2 or der[at] != 0x30:
            return b""
        size, head = der[at + 1], 2
        if size & 0x80:
            head += size & 0x7F
            size = int.from_bytes(der[at + 2:at + head], "big")
        if depth == 0:
            at += head
    return der[at:at + head + size]


def _cut(pem):
    """Which certificate of ``pem`` is cut (module rules), in words; None when none is."""
    begin, end_line = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    at = number = 0
    while True:
        start = pem.find(begin, at)
        if start < 0:
            return None
        number += 1
        end = pem.find(end_line, start)
        later = pem.find(begin, start + len(begin))
        if end < 0 or 0 <= later < end:
            return (f"certificate {number} of the file is cut: its BEGIN line has no END line (a file still being "
                    "written, or cut in a copy?)")
        at = end + len(end_line)


def _reason(exc):
    """OpenSSL's reason for ``exc`` in words: its reason code's (``NO_CERTIFICATE_OR_CRL_FOUND``:
    "no certificate or crl found"); without one, its message without the library's tag and
    CPython's source place ("[X509] PEM lib (_ssl.c:4154)": "pem lib")."""
    reason = getattr(exc, "reason", None)
    if reason:
        return reason.replace("_", " ").lower()
    text = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else str(exc)
    return _TAGS.sub("", text).strip().lower() or "unknown error"


def listener_tls(address, settings):
    """Whether the listener at ``address`` (a ``bind`` entry) speaks TLS: ``https://``
    always, ``http://`` never, no scheme when ``certfile`` is set."""
    if address.startswith("https://"):
        return True
    if address.startswith("http://"):
        return False
    return bool(settings.values.get("certfile"))
