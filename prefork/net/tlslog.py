"""The error log's lines for TLS handshakes that fail (net/tls.py), as nginx logs its
``SSL_do_handshake() failed`` and ``client SSL certificate verify error`` lines.

Rules:
- A client certificate refused (none sent where one is required, or one the CAs do not
  verify) is logged at info with the client's address and OpenSSL's reason (``certificate
  verify failed: unable to get local issuer certificate``): with ``verify_client`` set,
  it is the line an operator looks for when a client is turned away. At most one line
  per code every ``LOG_EVERY`` seconds per worker; the next line tells how many were
  not logged since.
- A client that refuses the server's certificate says so by an alert (``unknown ca``: a
  chain without its intermediate, or a private CA; ``bad certificate``, ``certificate
  expired``, ...): logged at info too, the same way, as nginx logs it, since it is the
  operator's certificate that is at fault.
- Every other failure (scanners, old versions, timeouts, clients that leave) is logged
  at debug only: the metric counts them by code.
- A PROXY protocol header where a ClientHello was expected (a balancer's ``send-proxy``
  to a TLS listener without ``proxy_protocol``, or a second header after the one a
  ``proxy_protocol`` listener read) is a warning, as on a plain listener
  (server/failures.py): at most one line per version every ``LOG_EVERY`` seconds.
"""

import logging

from .throttle import Throttle

LOG_EVERY = 10.0  # seconds between two info lines of one code, per worker
# OpenSSL's reasons for a refused client certificate (ERR_SSL_<reason>)
CLIENT_CERTIFICATE = frozenset({"ERR_SSL_CERTIFICATE_VERIFY_FAILED", "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"})
# the alerts a client sends when it refuses the server's certificate
SERVER_CERTIFICATE = frozenset(f"ERR_SSL_{version}_ALERT_{alert}" for version in ("SSLV3", "TLSV1") for alert in (
    "UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_EXPIRED", "CERTIFICATE_UNKNOWN", "CERTIFICATE_REVOKED",
    "UNSUPPORTED_CERTIFICATE"))
_told = Throttle(LOG_EVERY)  # the lines by code
_told_proxy = Throttle(LOG_EVERY)  # the PROXY header lines by (version, again)
log = logging.getLogger("prefork.server")


def tell_failure(err, peer):
    """Log the failed handshake ``err`` (an HTTPError with Node's code) of the client at
    ``peer`` (its address, or None)."""
    code = err.code
    if code in SERVER_CERTIFICATE:
        what = "TLS client refused the server's certificate"
    elif code in CLIENT_CERTIFICATE:
        what = "TLS client certificate refused"
    else:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("TLS handshake failed from %s: %s (%s)", peer or "-", _words(err), code)
        return
    more = _told.suffix(code)
    if more is None:
        return
    log.info("%s from %s: %s (%s)%s", what, peer or "-", _words(err), code, more)


def _words(err):
    """OpenSSL's message without its library tag and CPython's source place."""
    text = str(err)
    if text.startswith("[") and "] " in text:
        text = text.split("] ", 1)[1]
    at = text.rfind(" (_ssl.c:")
    return text[:at] if at > 0 else text


def tell_proxy_header(version, socket):
    """Warn that the TLS listener of ``socket`` got a PROXY protocol header (``version``)."""
    protocol = socket.protocol  # (a proxy_protocol listener's connection says it read one)
    again = bool(getattr(protocol, "proxy_header_read", False))
    more = _told_proxy.suffix((version, again))
    if more is None:
        return
    if socket.local_path is not None:
        listener = f"unix:{socket.local_path}"
    elif socket.local_family == "IPv6":
        listener = f"[{socket.local_address}]:{socket.local_port}"
    else:
        listener = f"{socket.local_address}:{socket.local_port}"
    if again:
        balancer = socket.proxy_peer  # (None: the header named no client, the peer is the balancer)
        peer = balancer[1] if balancer else socket.remote_address
        log.warning("a second PROXY protocol (v%d) header came from %s to %s, after the one the proxy_protocol "
                    "listener read, where a TLS ClientHello was expected: refused with a 400 (two balancers "
                    "sending PROXY headers?)%s", version, peer or "a UNIX socket peer", listener, more)
        return
    log.warning("a PROXY protocol (v%d) header came from %s to %s, a TLS listener without proxy_protocol, where "
                "a ClientHello was expected: refused with a 400 (turn on proxy_protocol or name the listener in "
                "proxy_protocol_bind, or stop the balancer sending PROXY headers to it)%s", version,
                socket.remote_address or "a UNIX socket peer", listener, more)
