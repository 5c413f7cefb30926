"""The ASGI TLS extension (asgiref ``specs/tls.rst``): ``scope["extensions"]["tls"]`` of a
connection that speaks TLS, read from the socket's public accessors.

Rules:
- Only a TLS connection gets it (the spec forbids it on others); it is read once per
  connection, and each request's scope gets a copy (``TLSTemplate``): an app that
  writes into ``extensions`` changes no other request's. A plain connection costs
  nothing here.
- ``server_cert`` is the certificate the listeners' context sends, as PEM, learnt once
  when the adapter is made by a handshake in memory with that context (the one the
  settings were checked with): never a file that changed on disk since, nor one the
  worker's user may not read. Without that context, the first certificate of
  ``certfile``; None when neither gives one (the spec's "unable to provide").
- ``client_cert_chain`` is the client's certificate as PEM (a list of one), or empty:
  the socket gives its peer's certificate only, not the chain the client sent.
- ``client_cert_name`` is the subject of that certificate as RFC 4514 writes it (the
  last RDN first, registered short names, a dotted OID with its value as ``#`` and the
  BER hex otherwise, and so is a value that is no string or not one its type allows;
  an attribute whose OID is longer than any registered one is written with no type,
  ``=#`` and its BER hex, as OpenSSL writes it, the rest of the name kept), read from
  the DER, so no name is lost to ``ssl``'s decoding.
- ``client_cert_error`` is None: a certificate the configured CAs do not verify fails
  the handshake (``ssl`` has no verify callback), so no connection carries one.
- ``tls_version`` is the 16-bit version (0x0304 for TLS 1.3); ``cipher_suite`` the
  IANA number, the low 16 bits of the OpenSSL id ``SSLContext.get_ciphers()`` lists for
  the negotiated name (None for a name it does not list).
"""

import ssl

VERSIONS = {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303, "TLSv1.1": 0x0302, "TLSv1": 0x0301, "SSLv3": 0x0300}
# the short names RFC 4514 3 lists, and others registered for LDAP (RFC 4519, RFC 2985's email)
SHORT_NAMES = {
    "2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C",
    "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
    "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.12": "title", "2.5.4.42": "givenName", "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier", "2.5.4.46": "dnQualifier",
    "2.5.4.17": "postalCode", "2.5.4.15": "businessCategory", "1.2.840.113549.1.9.1": "emailAddress",
}
# DER string types and how their bytes decode
_STRINGS = {0x0C: "utf-8", 0x12: "ascii", 0x13: "ascii", 0x14: "latin-1", 0x16: "ascii", 0x1A: "ascii",
            0x1C: "utf-32-be", 0x1E: "utf-16-be"}
_SPECIAL = frozenset('"+,;<>\\')
_suites = None  # OpenSSL cipher name: IANA number


def server_certificate(settings):
    """The certificate the server sends, as PEM: asked of the context the settings were
    checked with (the one the listeners serve with), else read from ``certfile``."""
    context = getattr(settings, "tls_context", None)
    if context is not None:
        return served_certificate(context)
    return certificate_in(getattr(settings, "certfile", None))


def served_certificate(context):
    """The certificate a server ``context`` sends, as PEM: a handshake in memory with a
    client that checks nothing (the context needs no file, nor the rights to read one)."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.set_ciphers("ALL:@SECLEVEL=0")
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    peer = client.wrap_bio(client_in, client_out)
    server = context.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(8):  # the client's end comes after two flights (TLS 1.3) or three (1.2)
        try:
            peer.do_handshake()
            der = peer.getpeercert(True)
            return ssl.DER_cert_to_PEM_cert(der) if der else None
        except ssl.SSLWantReadError:
            server_in.write(client_out.read())
        except (ssl.SSLError, ValueError):
            return None
        try:
            server.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            return None
        client_in.write(server_out.read())
    return None


def certificate_in(certfile):
    """The first certificate of ``certfile`` as PEM; None when there is none or it cannot be read."""
    if not certfile:
        return None
    try:
        with open(certfile, "rb") as f:
            text = f.read(1 << 20).decode("ascii", "replace")
    except OSError:
        return None
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    if begin < 0 or end < 0:
        return None
    try:
        der = ssl.PEM_cert_to_DER_cert(text[begin:end + 25])
    except ValueError:
        return None
    return ssl.DER_cert_to_PEM_cert(der)


def extension(socket, server_cert):
    """The ``tls`` extension's dict for an established TLS socket."""
    der = socket.get_peer_certificate(True)
    cipher = socket.get_cipher()
    return {
        "server_cert": server_cert,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": subject_name(der) if der else None,
        "client_cert_error": None,
        "tls_version": VERSIONS.get(socket.get_protocol()),
        "cipher_suite": cipher_suite(cipher["name"]) if cipher else None,
    }


class TLSTemplate(dict):
    """A TLS connection's scope template (adapter.py): each copy gets ``extensions`` and a
    ``tls`` dict of its own, so what an app writes there stays in its request's scope, as
    on a plain connection, whose template has no ``extensions`` to share."""

    __slots__ = ("tls",)

    def __init__(self, fields, tls):
        super().__init__(fields)
        self.tls = tls

    def copy(self):
        scope = dict.copy(self)
        tls = self.tls.copy()
        tls["client_cert_chain"] = list(tls["client_cert_chain"])
        scope["extensions"] = {"tls": tls}
        return scope


def cipher_suite(name):
    """The IANA number of the cipher suite OpenSSL calls ``name`` (None when unknown)."""
    global _suites
    if _suites is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
        except ssl.SSLError:  # (an OpenSSL that knows no such list: its defaults, then)
            pass
        _suites = {c["name"]: c["id"] & 0xFFFF for c in context.get_ciphers()}
    return _suites.get(name)


# -- the subject, from DER --------------------------------------------------------------------
def _tlv(data, at):
    """(tag, start of the value, end of the value) of the DER element at ``at``."""
    tag = data[at]
    if tag & 0x1F == 0x1F:  # a tag number in the bytes after (X.690 8.1.2.4)
        while data[at + 1] & 0x80:
            at += 1
        at += 1
    length = data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("a DER element runs past its end")
    return tag, at, at + length


def _children(data, start, end):
    while start < end:
        tag, value, after = _tlv(data, start)
        yield tag, start, value, after
        start = after


def _oid(body):
    """The dotted OID; None for one longer than any registered (64 bytes: a 2.25 UUID
    arc takes 20), whose arcs would be slow to read and past ``str``'s digit limit."""
    if len(body) > 64:
        return None
    first = body[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    number = 0
    for byte in body[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(map(str, parts))


def _escape(text):
    out = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        if ch in _SPECIAL or (i == 0 and ch in " #") or (i == last and ch == " "):
            out.append("\\" + ch)
        elif ch == "\0":
            out.append("\\00")
        else:
            out.append(ch)
    return "".join(out)


def _string(body, tag):
    """The text of a DER string; None for another type, or bytes its type does not allow."""
    encoding = _STRINGS.get(tag)
    try:
        return None if encoding is None else body.decode(encoding)
    except UnicodeDecodeError:
        return None


def subject_name(der):
    """The certificate's subject as an RFC 4514 string; None when the DER cannot be read."""
    try:
        _, start, end = _tlv(der, 0)  # Certificate
        _, start, end = _tlv(der, start)  # TBSCertificate
        fields = [(tag, value, after) for tag, _, value, after in _children(der, start, end)]
        if fields[0][0] == 0xA0:  # [0] version
            fields = fields[1:]
        _, start, end = fields[4]  # serialNumber, signature, issuer, validity, subject
        rdns = []
        for _, _, set_start, set_end in _children(der, start, end):
            pairs = []
            for _, _, pair_start, pair_end in _children(der, set_start, set_end):
                (_, _, oid_start, oid_end), (tag, whole, value, after) = _children(der, pair_start, pair_end)
                oid = _oid(der[oid_start:oid_end])
                if oid is None:  # (written with no type, as OpenSSL writes it; the rest of the name kept)
                    pairs.append("=#" + der[whole:after].hex())
                    continue
                name = SHORT_NAMES.get(oid)
                text = _string(der[value:after], tag) if name is not None else None
                text = "#" + der[whole:after].hex() if text is None else _escape(text)
                pairs.append(f"{name or oid}={text}")
            rdns.append("+".join(pairs))
        return ",".join(reversed(rdns))
    except (IndexError, ValueError):
        return None
