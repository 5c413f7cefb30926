"""The TLS face of ``net.Socket``: starting TLS on it and Node's accessors of the session.

Rules:
- ``start_tls`` hands the socket's bytes to a layer made by ``net.tls`` (``tls``); from
  then on the socket runs what it reads and writes through that layer, and the protocol
  sees nothing before the handshake's end. A plain socket keeps ``tls = None`` and
  ``encrypted = False`` (class attributes: nothing per socket).
- The accessors (read from the layer's ``ssl.SSLObject`` once the handshake has finished)
  answer None (or False) without TLS and before it, as Node's do on a plain socket.
- After the handshake, a read is activity for the idle timer only when the layer gives
  plaintext for it (or the peer's close_notify): the bytes of a record not whole yet, or
  of a handshake message, are not (Node's TLSSocket refreshes its timer on plaintext).
"""

from time import monotonic

from ..http.errors import HTTPError


class Secure:
    """Mixed into ``Socket``."""

    tls = None  # the TLS layer (net/tls.py) once start_tls ran
    encrypted = False  # Node's socket.encrypted

    def start_tls(self, tls, on_secure=None, on_error=None, data=b""):
        """From now on run this socket's bytes through TLS (``tls``: a ``net.tls.ServerTLS``);
        the handshake comes before any byte reaches the protocol. ``on_secure(socket)``
        when it completes, ``on_error(err, socket)`` when it fails (then the socket is
        destroyed). Bytes read before (a PROXY header) are not part of the TLS stream;
        ``data``: bytes already read that are (the start of a ClientHello after it)."""
        self.tls = tls.layer(self, self._sock, on_secure, on_error)
        self.encrypted = True
        if data:
            self.tls.received(data)  # no plaintext can come before the handshake's end
        return self

    def _decrypted(self, tls, data):
        """The plaintext of ``data`` read off the wire for the protocol (or the data
        listeners), b"" when there is none to hand on: a record part-way (more is due),
        a failed stream (destroyed here), the peer's close_notify (what came before it is
        handed on here, then the end)."""
        try:
            data = tls.received(data)
        except HTTPError as err:
            self._fail(err)
            return b""
        if data or tls.peer_closed:
            self.last_activity = monotonic()
            if self._idle_fired:
                self._rearm()
        if tls.peer_closed:
            if data:
                if self.protocol is not None:
                    self.protocol.data_received(data)
                else:
                    self._received_raw(data)
            if self.readable and not self.destroyed:
                self._on_eof()
            return b""
        if not data:
            self.look_for_reset()  # (a record part-way: more is due)
        return data

    @property
    def handshaking(self):
        """TLS started and its handshake not finished yet (nor failed)."""
        tls = self.tls
        return tls is not None and not tls.established and not tls.failed

    def _session(self):
        """The connection's ``ssl.SSLObject`` once its handshake has finished, else None."""
        tls = self.tls
        return tls.sslobj if tls is not None and tls.established else None

    def get_peer_certificate(self, binary_form=False):
        """The client's certificate as ``ssl`` decodes it ({} when none was verified);
        None without TLS or before the handshake, and in binary form for none (Node's
        ``getPeerCertificate``)."""
        session = self._session()
        cert = None if session is None else session.getpeercert(binary_form)
        return {} if cert is None and session is not None and not binary_form else cert

    def get_protocol(self):
        """The negotiated TLS version, e.g. ``TLSv1.3`` (Node's ``getProtocol``)."""
        session = self._session()
        return None if session is None else session.version()

    def get_cipher(self):
        """``{"name", "version", "bits"}`` of the negotiated cipher (Node's ``getCipher``)."""
        session = self._session()
        cipher = None if session is None else session.cipher()
        return None if cipher is None else {"name": cipher[0], "version": cipher[1], "bits": cipher[2]}

    @property
    def alpn_protocol(self):
        """The protocol chosen by ALPN, False when none was (Node's ``alpnProtocol``)."""
        session = self._session()
        return (None if session is None else session.selected_alpn_protocol()) or False

    @property
    def servername(self):
        """The host name the client asked for by SNI, False when it sent none (Node's
        ``servername``); None without TLS or before the handshake's end."""
        session = self._session()
        return None if session is None else session.servername

    @property
    def authorized(self):
        """The client presented a certificate the configured CAs verified (Node's ``authorized``)."""
        return bool(self.get_peer_certificate())
