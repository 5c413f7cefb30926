"""The WSGI environ of a request, built from a per-connection base.

Rules:
- What does not change on a connection (the peer, the local port, the ``wsgi.*`` keys,
  whether the peer's forwarding headers are trusted) is computed once per connection;
  each request gets a copy of that base plus its own keys. The local address is read
  (``socket.address()``) only for a request whose ``Host`` gives no ``SERVER_NAME``.
  A connection's entry goes when its server connection (``socket.protocol``) is freed,
  once it closes: no listener is put on the socket. (Neither is an attribute of the
  socket's: CPython 3.11 keeps at most 29 attribute names of a class's instances in its
  compact layout; a socket given more, as WSGI's were with ``turn_holds``, the cached
  local address and a 'close' listener, gets a dict of its own, and every method of
  it looked up on every request is looked up the slow way.) The base holds every key a
  request always sets, so that setting them grows no copy. What a request's fields
  give (the ``HTTP_*`` keys, ``Host``'s name and port) is kept with those fields: the
  next request on the connection with equal fields (a kept-alive client sends the same
  ones again) copies it instead of mapping them again. Not when a field is repeated
  (its value a list, which could change under the copy kept). A request that repeats
  the one before it (the same target, method and version: a page asked for again)
  has its whole environ kept, which the next ones that repeat it copy, only the call's
  keys (``wsgi.input``, ``prefork.request``, ``wsgi.early_hints``) set anew; not after
  anything a request alone decides (forwarding fields, a chunked body, a field map cut
  at ``max_headers_count``). The loop's call (wsgi/response.py) makes that test itself.
- Header names map to their ``HTTP_*`` keys through a bounded cache (hostile clients
  cannot grow it past ``_CACHE_LIMIT`` entries); so do ``Host`` values. A name with an
  ``_`` is dropped: ``X-Forwarded_For`` and ``X-Forwarded-For`` would both be
  ``HTTP_X_FORWARDED_FOR``, so a client could pass one off as the other (a proxy in
  front checks only the one it knows).
- ``PATH_INFO`` is the target's path percent-decoded, as latin-1 (PEP 3333): the bytes
  on the wire, raw or percent-encoded, come back with ``.encode("latin-1")``. A
  fragment a client sent after ``#`` is in neither ``PATH_INFO`` nor ``QUERY_STRING``
  (only in ``RAW_URI``), as in the ASGI scope.
- ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are trusted only from peers in
  ``forwarded_allow_ips``: addresses, networks, ``unix`` (peers on a UNIX socket; a TCP
  peer whose address could not be read is not one) or ``*`` (every peer), read as the
  PROXY protocol's ``proxy_allow_ips`` are. ``REMOTE_ADDR`` and the scheme are what
  http/forwarded.py reads from them, as the ASGI side does (the client is set on the
  request too, ``req.forwarded_client``: the access log's ``{h}``). Not when the
  request had more fields than ``max_headers_count`` keeps: the proxy's own
  X-Forwarded-For, which it appends last, may be the one left out.
- ``SCRIPT_NAME`` is ``root_path`` for a path under it (``PATH_INFO`` is the rest);
  a path outside it gets an empty ``SCRIPT_NAME`` and the whole path, so the two
  always join to the request's path.
- ``RAW_URI`` is the request target as sent (gunicorn's key: apps read it to tell an
  encoded ``%2F`` from a ``/``), ``SERVER_SOFTWARE`` is ``prefork/VERSION``.
- ``SERVER_NAME``/``SERVER_PORT`` come from ``Host`` when present and an authority
  (``h:abc``, ``h:1:2``, ``user@h`` are none: they leave the local address), else from
  the local address; a ``Host`` without a port means the scheme's default (80, or 443 for https,
  the forwarded scheme included), never the port the server listens on. A target in
  absolute form (``GET http://example.com:8080/p``) names the host itself, and it is
  the one (RFC 9112 3.2.2: a server ignores ``Host`` then): its authority, without a
  userinfo, gives them, its scheme the default port (an authority that is none, as
  ``h:99999`` or ``h:1:2``, is ignored as one without a host). ``HTTP_HOST`` stays the header
  as sent, as every ``HTTP_*`` key does (gunicorn keeps it too; it takes neither from
  the target: its ``SERVER_NAME`` is the local address). ``PATH_INFO`` and
  ``QUERY_STRING`` are the target's path (``/`` when it has none) and query.
- ``REMOTE_ADDR`` and a ``SERVER_NAME`` from the local address carry no link-local
  zone (``fe80::1``, not ``fe80::1%eth0``: gunicorn's, ``getpeername()``'s host), as
  the ASGI scope's ``client`` and ``server`` (``net/zones.py``).
"""

import re
from urllib.parse import unquote_to_bytes
from weakref import ref

from .. import __version__
from ..http.forwarded import forwarded_client, forwarded_proto
from ..http.headers import map_is_cut
from ..net.zones import unzoned
from ..net.proxy import TrustedSources
from .streams import EMPTY_INPUT

_CACHE_LIMIT = 512
_PROTOCOLS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}
# the keys every request sets: in the base from the start, so that setting them adds
# no key to a request's copy (which would grow its table past the base's)
_PER_REQUEST = dict.fromkeys(("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "RAW_URI", "SERVER_PROTOCOL",
                              "prefork.request", "wsgi.early_hints"))
_PER_REQUEST["wsgi.input"] = EMPTY_INPUT  # a request without a body keeps it


def _header_key(name):
    """The environ key of a header name; "" when the name is dropped."""
    if "_" in name:
        return ""
    if name == "content-type":
        return "CONTENT_TYPE"
    if name == "content-length":
        return "CONTENT_LENGTH"
    return "HTTP_" + name.upper().replace("-", "_")


_REG_NAME = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]+\Z")  # RFC 3986 reg-name (an IPv4 address too)
_IP_LITERAL = re.compile(r"[0-9A-Za-z:.%_~\-]+\Z")  # inside the brackets: IPv6 (a zone), IPvFuture


def authority(host):
    """(name, port) of ``uri-host [":" port]`` (RFC 9110 7.2), the port "" when none is
    given; False when ``host`` is no such thing (``h:abc``, ``h:99999``, ``h:1:2``,
    ``[::1]x``, ``user@h``, ``h h``)."""
    if host.startswith("["):
        name, closed, port = host[1:].partition("]")
        if not closed or port[:1] not in ("", ":") or not _IP_LITERAL.match(name):
            return False
        port = port[1:]
    else:
        name, _, port = host.partition(":")
        if not _REG_NAME.match(name):
            return False
    if port and not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        return False
    return name, port


class _Connection:
    """What the environs of one connection's requests share: its base, whether its
    peer is trusted, and the environ its last request's fields made (with those
    fields), which a kept-alive client's next request, with the same fields, copies."""

    __slots__ = ("base", "trusted", "headers", "environ", "forwarding", "unusual", "last", "url", "method",
                 "version", "request", "socket", "local", "watch")

    def __init__(self, base, trusted, socket):
        self.base = base
        self.trusted = trusted
        self.socket = socket
        self.local = None  # (SERVER_NAME, SERVER_PORT) of the local address, read when first needed
        self.watch = None  # a weak reference to the socket's server connection: the entry goes with it
        self.headers = None  # the fields ``environ`` was made from (None: none kept)
        self.environ = None
        self.forwarding = False  # ``headers`` has forwarding fields the peer may set
        self.unusual = False  # ``headers`` has those or a Transfer-Encoding (see _unusual below)
        self.last = None  # (target, method, version) of the last request made here
        # a request asked for twice in a row: its target, method, version and whole
        # environ but for the call's keys (its fields ``headers``, nothing unusual in it)
        self.url = self.method = self.version = self.request = None


class EnvironBuilder:
    def __init__(self, *, root_path, url_scheme, forwarded_allow_ips, errors, multithread, file_wrapper):
        self.root_path = root_path
        self.url_scheme = url_scheme
        self.forwarded_allow_ips = forwarded_allow_ips
        self.trusted = TrustedSources(forwarded_allow_ips)
        self.constants = {
            "SCRIPT_NAME": root_path,
            "SERVER_SOFTWARE": f"prefork/{__version__}",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url_scheme,
            "wsgi.input_terminated": True,
            "wsgi.errors": errors,
            "wsgi.multithread": multithread,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": file_wrapper,
        }
        self.keys = {}
        self.hosts = {}
        self.connections = {}  # socket -> its _Connection, dropped when the socket closes
        self.server = None  # its max_headers_count (set by the adapter's setup)

    # -- per connection --------------------------------------------------------------------------
    def connection(self, socket):
        entry = self.connections.get(socket)
        if entry is None:
            entry = self._connection(socket)
            owner = socket.protocol  # (None: a socket closed already, whose entry would never go)
            if owner is not None:
                connections = self.connections
                entry.watch = ref(owner, lambda _: connections.pop(socket, None))  # (module rules)
                connections[socket] = entry
        return entry

    def _connection(self, socket):
        remote_addr = unzoned(socket.remote_address or "")
        base = dict(self.constants)
        base["SERVER_NAME"] = base["SERVER_PORT"] = None  # (the Host's, or the local address's: per request)
        base["REMOTE_ADDR"] = remote_addr
        port = socket.remote_port
        base["REMOTE_PORT"] = "" if port is None else str(port)  # (0 from a PROXY header too)
        if socket.encrypted:
            base["wsgi.url_scheme"] = "https"
        base.update(_PER_REQUEST)
        return _Connection(base, self.trusted.allows_socket(socket), socket)

    @staticmethod
    def _local(conn):
        """(SERVER_NAME, SERVER_PORT) of the connection's local address, read once."""
        local = conn.local
        if local is None:
            address = conn.socket.address()
            address = address if isinstance(address, dict) else {}
            local = conn.local = (unzoned(address.get("address", "localhost")), str(address.get("port", "") or ""))
        return local

    # -- per request ------------------------------------------------------------------------------
    def environ(self, req, body, early_hints=None):
        """The environ of ``req`` (``wsgi.input`` is ``body``, ``wsgi.early_hints`` the call's)."""
        conn = self.connections.get(req.socket) or self.connection(req.socket)
        headers = req.headers
        url = req.url
        if headers == conn.headers:  # the fields of the connection's last request again
            if url == conn.url and req.method == conn.method and req.http_version == conn.version \
                    and req.all_headers is headers:
                environ = conn.request.copy()  # the same request again: only the call's keys differ
                if body is not EMPTY_INPUT:
                    environ["wsgi.input"] = body
                environ["prefork.request"] = req
                environ["wsgi.early_hints"] = early_hints
                return environ
            environ = conn.environ.copy()
        else:
            environ = self._from_fields(conn, headers)
        raw = url
        if "#" in url:  # a fragment is no part of the path or the query
            url = url.partition("#")[0]
        target_authority = None
        if url[0] != "/" and url[:8].lower().startswith(("http://", "https://")):
            scheme, _, after_scheme = url.partition("://")
            cut = min((i for i in (after_scheme.find("/"), after_scheme.find("?")) if i >= 0), default=-1)
            target_authority = after_scheme[:cut] if cut >= 0 else after_scheme
            url = after_scheme[cut:] if cut >= 0 else "/"
            if url[0] == "?":
                url = "/" + url
        path, _, query = url.partition("?")
        if "%" in path:
            path = unquote_to_bytes(path.encode("latin-1")).decode("latin-1")
        script_name = self.root_path
        if script_name:
            if path == script_name or path.startswith(script_name + "/"):
                path = path[len(script_name):]
            else:
                environ["SCRIPT_NAME"] = ""  # outside the mount: SCRIPT_NAME + PATH_INFO is the path
        environ["REQUEST_METHOD"] = req.method
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = query
        environ["RAW_URI"] = raw
        version = req.http_version
        # (compared before the table: the parser's version is a new str, whose hash is not made yet)
        environ["SERVER_PROTOCOL"] = "HTTP/1.1" if version == "1.1" else _PROTOCOLS.get(version) or "HTTP/" + version
        if target_authority is not None:
            self._target_host(environ, scheme, target_authority)  # not Host's (module rules)
        if conn.unusual or req.all_headers is not headers:
            self._unusual(req, body, environ, conn.forwarding)
            conn.url = None
        elif conn.headers is not None:  # (its fields kept: the next request may be this one again)
            last = (raw, req.method, version)
            if last == conn.last:  # asked for again: kept whole (only then: a copy has a cost)
                conn.url, conn.method, conn.version = last
                conn.request = environ.copy()
            conn.last = last
        if body is not EMPTY_INPUT:  # (the base's)
            environ["wsgi.input"] = body
        environ["prefork.request"] = req
        environ["wsgi.early_hints"] = early_hints
        return environ

    def _unusual(self, req, body, environ, forwarding):
        """What forwarding fields, a chunked body or a field map cut at
        ``max_headers_count`` add to a request's environ."""
        headers = req.headers
        if forwarding and not map_is_cut(req.raw_headers, self.server and self.server.max_headers_count):
            self._forwarded(req, headers, environ)
        if not environ["SERVER_PORT"]:
            environ["SERVER_PORT"] = "443" if environ["wsgi.url_scheme"] == "https" else "80"
        if "CONTENT_LENGTH" not in environ:
            fields = req.all_headers
            if fields is not headers and "content-length" in fields:
                environ["CONTENT_LENGTH"] = fields["content-length"]  # a field past max_headers_count's cut
            elif body.length is not None and "transfer-encoding" in fields:
                environ["CONTENT_LENGTH"] = str(body.length)  # a chunked body, read whole already

    def _from_fields(self, conn, headers):
        """The connection's base with what the request's fields give (``HTTP_*``, the
        ``Host``'s name and port), kept on ``conn`` for the next request with the same
        fields; a copy of it to complete."""
        environ = conn.base.copy()
        keys = self.keys
        kept = True
        for name, value in headers.items():
            key = keys.get(name)
            if key is None:
                key = _header_key(name)
                if len(keys) < _CACHE_LIMIT:
                    keys[name] = key
            if not key:
                continue
            if value.__class__ is list:
                value = ", ".join(value)
                kept = False  # (a list could change under the copy kept)
            environ[key] = value
        host = headers.get("host")
        if host:
            split = self.hosts.get(host)
            if split is None:
                split = authority(host)
                if len(self.hosts) < _CACHE_LIMIT:
                    self.hosts[host] = split
        else:
            split = None
        # (a Host that is no authority leaves the local address; a Host without a port,
        # the scheme's default, never the listening port)
        environ["SERVER_NAME"], environ["SERVER_PORT"] = split or self._local(conn)
        forwarding = conn.trusted and ("x-forwarded-for" in headers or "x-forwarded-proto" in headers)
        conn.forwarding = forwarding
        conn.url = None  # (the last request's environ was another's fields')
        conn.unusual = forwarding or "transfer-encoding" in headers
        if not forwarding and not environ["SERVER_PORT"]:  # (else the forwarded scheme's, per request)
            environ["SERVER_PORT"] = "443" if environ["wsgi.url_scheme"] == "https" else "80"
        conn.headers = headers.copy() if kept else None  # (a copy: an app may change the request's)
        conn.environ = environ
        return environ.copy()

    @staticmethod
    def _target_host(environ, scheme, target):
        """SERVER_NAME and SERVER_PORT from an absolute-form target's authority; False
        when it names no host (``http:///p``) or is no authority (``http://h:99999/``,
        ``http://h:1:2/``, ``http://[::1/``): Host's then."""
        split = authority(target.rpartition("@")[2])  # a userinfo is no part of the host
        if not split:
            return False
        name, port = split
        environ["SERVER_NAME"] = name
        environ["SERVER_PORT"] = port or ("443" if scheme.lower() == "https" else "80")
        return True

    def _forwarded(self, req, headers, environ):
        """REMOTE_ADDR and the scheme from a trusted peer's forwarding headers (the
        client also on the request, for the access log)."""
        value = headers.get("x-forwarded-for")
        if value:
            client = forwarded_client(value, self._proxy)  # repeated fields: joined
            if client is not None:
                if client != environ["REMOTE_ADDR"]:  # the client's own port is not known (ASGI: (client, 0))
                    environ["REMOTE_PORT"] = "0"
                environ["REMOTE_ADDR"] = req.forwarded_client = client
        value = headers.get("x-forwarded-proto")
        if value:
            proto = forwarded_proto(value)
            if proto is not None:
                environ["wsgi.url_scheme"] = "https" if proto in ("https", "wss") else "http"

    def _proxy(self, address):
        """A hop's address is one of the trusted proxies."""
        return self.trusted.allows((address, 0))
