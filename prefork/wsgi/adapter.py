"""WSGI (PEP 3333) on the event server.

Rules:
- The request body is read off the loop before the app is called: in memory up to
  ``body_spool`` bytes, then in a temporary file; a body over ``max_body_size`` gets a
  413 without calling the app (and the connection closes: the rest is not read).
- ``Expect: 100-continue``: the 100 goes out when the request is dispatched (as
  gunicorn does), unless the declared body is over ``max_body_size`` (413, no 100);
  the body is then read by the loop like any other, and the app runs once it is in.
  A client that stalls mid-body holds only its own connection (request_timeout ends it).
- The app never runs inside the parser: each call is scheduled on the loop, one at a
  time per worker (WSGI apps are synchronous).
- The response iterable is streamed with backpressure: iteration pauses while the
  socket's buffer is over its high-water mark and resumes on ``drain``; ``close()`` is
  called on it in every case. A ``wsgi.file_wrapper`` around a real file goes out with
  ``os.sendfile`` when its length is known.
- An exception in the app gives a 500 if nothing was sent (otherwise the connection is
  closed) and is logged with its traceback; the worker goes on serving.
- ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``Forwarded`` are trusted only from
  peers in ``forwarded_allow_ips``.
"""

import io
import logging
import os
import tempfile
from urllib.parse import unquote_to_bytes

from .streams import Errors, FileWrapper, InputStream, SendFile

log = logging.getLogger("prefork.wsgi")

_HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                         "trailers", "transfer-encoding", "upgrade"))


class WSGIAdapter:
    def __init__(self, app, *, root_path="", body_spool=1024 * 1024, max_body_size=100 * 1024 * 1024,
                 forwarded_allow_ips=("127.0.0.1", "::1"), url_scheme="http"):
        self.app = app
        self.root_path = root_path.rstrip("/")
        self.body_spool = body_spool
        self.max_body_size = max_body_size
        allow = forwarded_allow_ips
        if isinstance(allow, str):
            allow = [a.strip() for a in allow.split(",") if a.strip()]
        self.forwarded_allow_ips = frozenset(allow)
        self.url_scheme = url_scheme
        self.errors = Errors()
        self._queue = []
        self._busy = False

    def setup(self, server):
        self.server = server
        self.loop = server.loop
        server.on("request", self.on_request)
        server.on("checkContinue", self.on_check_continue)

    # -- requests ------------------------------------------------------------------------------
    def _too_large(self, req, res):
        length = req.headers.get("content-length")
        return length is not None and length.isdigit() and int(length) > self.max_body_size

    def _refuse_too_large(self, res):
        res.write_head(413, {"Content-Type": "text/plain", "Connection": "close", "Content-Length": "24"})
        res.end(b"Request body too large.\n")

    def on_request(self, req, res):
        headers = req.headers
        length = headers.get("content-length")
        if (length is None or length == "0") and "transfer-encoding" not in headers:
            # no body: the app runs once the parser is done with this read
            self._schedule(req, res, InputStream.empty())
            return
        if self._too_large(req, res):
            self._refuse_too_large(res)
            return
        state = {"size": 0, "refused": False, "spool": None}

        def on_data(chunk):
            if state["refused"]:
                return
            state["size"] += len(chunk)
            if state["size"] > self.max_body_size:
                state["refused"] = True
                self._refuse_too_large(res)
                return
            if state["spool"] is None:
                state["spool"] = tempfile.SpooledTemporaryFile(max_size=self.body_spool)
            state["spool"].write(chunk)

        def on_end():
            spool = state["spool"]
            if state["refused"]:
                if spool is not None:
                    spool.close()
                return
            if spool is None:
                self._schedule(req, res, InputStream.empty())
                return
            spool.seek(0)
            self._schedule(req, res, InputStream(spool, length=state["size"]))
        req.on("data", on_data)
        req.on("end", on_end)

    def on_check_continue(self, req, res):
        if self._too_large(req, res):
            self._refuse_too_large(res)  # no 100: the client need not send the body
            return
        res.write_continue()
        self.on_request(req, res)

    def _schedule(self, req, res, body):
        self._queue.append((req, res, body))
        if not self._busy:
            self._busy = True
            self.loop.call_soon(self._run_next)

    def _run_next(self):
        if not self._queue:
            self._busy = False
            return
        req, res, body = self._queue.pop(0)
        if req.socket.destroyed:
            self.loop.call_soon(self._run_next)
            return
        _Call(self, req, res, body).start()

    def call_done(self):
        self.loop.call_soon(self._run_next)

    # -- environ --------------------------------------------------------------------------------
    def environ(self, req, body):
        url = req.url
        if url[0] != "/" and url.startswith(("http://", "https://")):
            after_scheme = url.split("://", 1)[1]
            slash = after_scheme.find("/")
            url = after_scheme[slash:] if slash >= 0 else "/"
        path, _, query = url.partition("?")
        if "%" in path:
            path = unquote_to_bytes(path).decode("latin-1")
        script_name = self.root_path
        if script_name and (path == script_name or path.startswith(script_name + "/")):
            path = path[len(script_name):]
        socket = req.socket
        local = socket.address()
        host = req.headers.get("host", "")
        server_name, server_port = host, str(local.get("port", "")) if isinstance(local, dict) else ""
        if host:
            if host.startswith("["):
                server_name, _, port = host[1:].partition("]")
                server_port = port.lstrip(":") or server_port
            elif ":" in host:
                server_name, server_port = host.rsplit(":", 1)
        else:
            server_name = local.get("address", "localhost") if isinstance(local, dict) else "localhost"
        scheme = "https" if socket.encrypted else self.url_scheme
        remote_addr, remote_port = socket.remote_address or "", str(socket.remote_port or "")
        if remote_addr in self.forwarded_allow_ips or (not remote_addr and "unix" in self.forwarded_allow_ips):
            remote_addr, scheme = self._forwarded(req.headers, remote_addr, scheme)
        environ = {
            "REQUEST_METHOD": req.method,
            "SCRIPT_NAME": script_name,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port or ("443" if scheme == "https" else "80"),
            "SERVER_PROTOCOL": f"HTTP/{req.http_version}",
            "REMOTE_ADDR": remote_addr,
            "REMOTE_PORT": remote_port,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": body,
            "wsgi.input_terminated": True,
            "wsgi.errors": self.errors,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "prefork.request": req,
        }
        for name, value in req.headers.items():
            if isinstance(value, list):
                value = ", ".join(value)
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name == "content-length":
                environ["CONTENT_LENGTH"] = value
            else:
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        if "CONTENT_LENGTH" not in environ and body.length is not None and "transfer-encoding" in req.headers:
            environ["CONTENT_LENGTH"] = str(body.length)  # a chunked body, read whole already
        return environ

    def _forwarded(self, headers, remote_addr, scheme):
        forwarded = headers.get("forwarded")
        if forwarded:
            first = forwarded.split(",")[0]
            for part in first.split(";"):
                key, _, value = part.strip().partition("=")
                value = value.strip('"')
                if key.lower() == "for" and value:
                    remote_addr = value.strip("[]").split("]:")[0] if value.startswith("[") else value.split(":")[0]
                elif key.lower() == "proto" and value in ("http", "https"):
                    scheme = value
            return remote_addr, scheme
        xff = headers.get("x-forwarded-for")
        if xff:
            remote_addr = xff.split(",")[0].strip()
        proto = headers.get("x-forwarded-proto")
        if proto and proto.strip().lower() in ("http", "https"):
            scheme = proto.strip().lower()
        return remote_addr, scheme


class _Call:
    """One WSGI call: start_response, then the iterable streamed with backpressure."""

    def __init__(self, adapter, req, res, body):
        self.adapter = adapter
        self.req = req
        self.res = res
        self.body = body
        self.status = None
        self.headers = None
        self.iterable = None
        self.iterator = None
        self.finished = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.res.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        self.status = status
        self.headers = headers
        return self.write

    def _send_head(self):
        if self.res.headers_sent:
            return
        if self.status is None:
            raise AssertionError("the app returned before calling start_response")
        code, _, reason = self.status.partition(" ")
        res = self.res
        for name, value in self.headers:
            if name.lower() in _HOP_BY_HOP and name.lower() != "connection":
                continue
            if res.has_header(name):
                current = res.get_header(name)
                res.set_header(name, (current if isinstance(current, list) else [current]) + [value])
            else:
                res.set_header(name, value)
        res.status_code = int(code)
        res.status_message = reason or None

    def write(self, data):
        """The legacy write() callable: buffered on the response."""
        self._send_head()
        self.res.write(data)

    def start(self):
        adapter = self.adapter
        try:
            environ = adapter.environ(self.req, self.body)
            self.iterable = adapter.app(environ, self.start_response)
            if isinstance(self.iterable, FileWrapper) and self._try_sendfile():
                return
            if isinstance(self.iterable, (list, tuple)) and not self.res.headers_sent:
                data = b"".join(self.iterable)  # all in memory already: one send, Content-Length
                self._send_head()
                res = self.res
                if not res.has_header("content-length") and res.has_body_status():
                    res.set_header("Content-Length", str(len(data)))  # HEAD gets it too, as GET would
                res.end(data)
                self.finish()
                return
            self.iterator = iter(self.iterable)
        except Exception:
            self._failed()
            return
        self.pump()

    def pump(self):
        """Send blocks until the socket pushes back; resume on 'drain'."""
        res = self.res
        try:
            for block in self.iterator:
                if not block:
                    continue
                self._send_head()
                if res.socket.destroyed:
                    break
                if not res.write(block):
                    res.once("drain", self.pump)
                    return
            self._send_head()
            res.end()
        except Exception:
            self._failed()
            return
        self.finish()

    def _try_sendfile(self):
        wrapper = self.iterable
        res = self.res
        try:
            fd = wrapper.filelike.fileno()
            size = os.fstat(fd).st_size - wrapper.filelike.tell()
        except (AttributeError, OSError, io.UnsupportedOperation):
            return False
        self._send_head()
        if not res.has_header("content-length"):
            res.set_header("Content-Length", str(size))
        length = int(res.get_header("content-length"))
        offset = wrapper.filelike.tell()
        if self.req.method == "HEAD" or not res.active or length == 0:
            res.end()
            self.finish()
            return True
        res.flush_headers()
        SendFile(self, fd, offset, min(length, size)).start()
        return True

    def _failed(self):
        log.exception("error in WSGI app for %s %s", self.req.method, self.req.url)
        res = self.res
        if not res.headers_sent:
            res.reset_head()
            res.write_head(500, {"Content-Type": "text/plain", "Content-Length": "22"})
            res.end(b"Internal Server Error\n")
        else:
            res.socket.destroy()
        self.finish()

    def finish(self):
        if self.finished:
            return
        self.finished = True
        close = getattr(self.iterable, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("error closing the WSGI response iterable")
        self.adapter.call_done()


def make_adapter(app, settings):
    return WSGIAdapter(app, root_path=settings.root_path, body_spool=settings.wsgi_body_spool,
                       max_body_size=settings.max_body_size, forwarded_allow_ips=settings.forwarded_allow_ips)
