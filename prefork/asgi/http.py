"""One ASGI HTTP request/response cycle on the event server's req and res.

Rules:
- The request body streams: chunks are kept as they arrive and each ``receive()``
  takes all that is kept (``more_body`` true until the end). Past ``_HIGH_WATER``
  kept bytes the request is paused (the socket stops reading) until the app receives.
- ``Expect: 100-continue``: the 100 goes out the first time the app asks for the
  body (also when the body came with the head), and only if no response has started; an app that answers without reading
  gets its answer and the connection closes (the client may still be sending).
- Once the body is read, ``receive()`` waits until the response is complete or the
  client is gone, then answers ``http.disconnect`` (at once ever after). Once the
  response is complete it answers ``http.disconnect`` whatever body was left unread (the
  ASGI spec; uvicorn does so), and so it does once the connection is gone (a reset,
  a failed write), unread body or not (the spec's disconnect "after the HTTP
  connection has been closed", as uvicorn answers it). Every
  ``receive()`` waiting is woken (Starlette's StreamingResponse waits in one while its
  generator polls ``is_disconnected()`` with another, cancelled at once). A ``receive()``
  that was waiting for the body when another task took its end gets the end too (an
  empty ``more_body`` false), as uvicorn wakes them all: Starlette's disconnect
  listener beside a generator reading ``request.stream()`` must not leave it waiting. The client's
  FIN counts as gone here (as uvicorn reports it), though the server would still send
  the response on the half-closed connection. Body bytes
  the app has not read when its response is complete are dropped as they arrive, so
  the connection can serve its next request.
- The head is fixed at the first body message: a single complete body gets a
  Content-Length when the app gave none, a streamed one is chunked. An empty chunk
  with ``more_body`` sends the head at once, and so does an app that yields to the
  loop between its start and its first body (a stream whose first event is late: the
  client has the head at once, as uvicorn sends it at the start; one ``call_soon`` per
  start checks it, and a start followed by its body in the same step is unchanged),
  unless a 100 Continue is still owed (it goes first, when the app asks for the body).
  The start's ``headers`` may be any iterable of pairs (one that is not a list or tuple
  is read once, at the start). A header list is decoded (repeated
  names merged) and checked once into a ``HeaderBlock``; the adapter keeps it for the next
  response whose list is equal (``_HEADS_KEPT`` lists at most, all forgotten when
  full). A start and a single complete body go out with ``res.end_with`` (head and
  body in one send when the server's cached-head conditions hold).
- Pipelined requests are answered one at a time, as uvicorn does: the app is called
  for a request queued behind another response (or one whose bytes still fill the
  socket's buffer) once that one is done and the buffer is below its high-water mark
  (a request whose connection closed meanwhile is
  never called), so a client that pipelines many requests and reads nothing costs one
  response per connection, not one per request parsed.
- ``send()`` of a body chunk returns once the socket took it; while the socket's
  buffer is over its high-water mark it waits for ``drain`` (or the close). A
  pipelined response behind another one keeps its bytes until it is first; past the
  high-water mark it waits for the one ahead to finish (the server tells a queued
  response nothing when it becomes first). Every send waiting (an app may send from
  several tasks) is woken by the same ``drain`` or close.
- A body must agree with the Content-Length the app declared (unless the response has
  no body: HEAD, 204, 304): a body message that would go past it raises
  RuntimeError in the app, and so does one that ends the response short; the
  connection closes at once (the head is out), so the client never reads the next
  response at a wrong offset. A single complete body that disagrees, or a first chunk
  already past the length while the head is held, raises before anything is out (the
  client gets a 500). An unreadable declared length raises.
- A body is bytes-like (a ``str`` goes out UTF-8 encoded, as Node's ``write`` takes
  it; None is no bytes); any other type raises TypeError before anything is out. A
  ``bytearray`` or ``memoryview`` is copied (the response queues what it is given, as
  Node's does), so an app may refill its buffer for the next chunk once send() returns.
- A ``Transfer-Encoding`` whose last coding is not chunked (``gzip``, ``identity``)
  makes the body close-delimited: the response says ``Connection: close`` and the
  connection closes after it. A ``Content-Length`` the app gives beside a
  ``Transfer-Encoding`` is not sent (the coding frames the body).
- The status is a final one, 200 to 999: a 1xx in ``http.response.start`` raises (the
  client would take the next response on the connection for this request's).
- Sending to a closed connection is dropped without an error, unchecked (spec_version
  2.3, as uvicorn); a body after the response is complete raises even so. A dropped
  body message still gives the loop one turn before it returns: an app that streams
  from a generator that never awaits (Starlette's ``StreamingResponse`` over chunks
  made in memory) would otherwise spin in the worker's loop for ever, where the turn
  lets Starlette's disconnect listener run and cancel the stream (and the worker's
  other connections be served).
- No extension is offered to HTTP scopes: a message of one (``http.response.trailers``,
  ``http.response.push``) raises RuntimeError saying so.
- An app that raises, or returns, while no byte of its response has gone out (before
  ``http.response.start``, or with a start whose status or headers are refused) gets a
  500; after that, the connection is closed (the client sees a cut response). So is
  one whose client has left (its FIN: the app may have been told ``http.disconnect``):
  no 500 is sent to it, and its access log line says 499, as uvicorn closes there too.
  Both are logged, except a return after the client left (as uvicorn) and the
  cancelling of a stopping worker (the adapter logs that). ``SystemExit`` or ``KeyboardInterrupt``
  from the app ends its request the same way, never the worker (as uvicorn).
"""

import logging
from asyncio import CancelledError, sleep

from ..http.serialize import HeaderBlock
from .heads import body_bytes, chunked_last, declared_length, response_fields
from .waiters import park, wake_all

log = logging.getLogger("prefork.asgi")

_HIGH_WATER = 64 * 1024
_HEADS_KEPT = 256  # distinct response header lists remembered (all forgotten when full)
_ERROR_HEAD = {"Content-Type": "text/plain; charset=utf-8", "Connection": "close", "Content-Length": "21"}
_ERROR_BODY = b"Internal Server Error"
_NO_BODY = frozenset((204, 304))


class HTTPCycle:
    __slots__ = ("req", "res", "adapter", "chunks", "kept", "more", "body_taken", "expect", "closed",
                 "watching", "receivers", "drainers", "start", "complete", "task", "remaining")

    def __init__(self, req, res, adapter, has_body):
        self.req = req
        self.res = res
        self.adapter = adapter  # its loop and its ``heads``
        self.chunks = None
        self.kept = 0
        self.more = has_body  # body bytes may still come
        self.body_taken = False  # the last http.request message was given
        self.expect = False  # a 100 Continue is owed when the app first waits for the body
        self.closed = False
        self.watching = False
        self.receivers = None  # the futures waiting receive() calls sleep on (an app may have two)
        self.drainers = None  # the futures send() calls waiting for 'drain' sleep on
        self.start = None  # the http.response.start message
        self.complete = False
        self.task = None  # set by whoever runs ``run()`` in a task
        self.remaining = None  # body bytes still owed to a declared Content-Length
        if has_body:
            req.on("data", self.on_data)
            req.on("end", self.on_end)
            self.watch_close()

    # -- fed by the request ----------------------------------------------------------------
    def on_data(self, chunk):
        if self.complete:
            return  # answered: the server discards the rest of the body as it comes
        if self.chunks is None:
            self.chunks = [chunk]
        else:
            self.chunks.append(chunk)
        self.kept += len(chunk)
        if self.kept > _HIGH_WATER:
            self.req.pause()
        self.wake()

    def on_end(self):
        self.more = False
        self.wake()

    def watch_close(self):
        # the response's 'close' (done, or its connection gone): the request's own comes
        # once its body is read, the response still to be sent (Node's)
        if not self.watching:
            self.watching = True
            self.res.on("close", self.on_close)

    def on_close(self):
        self.closed = True
        req = self.req  # nothing more is taken from it: its listeners let go of this cycle
        req.off("data", self.on_data)
        req.off("end", self.on_end)
        self.res.off("close", self.on_close)
        req.socket.off("drain", self.drained)  # no 'drain' comes now: it would hold this cycle
        self.wake()
        self.drained()

    def wake(self, _=None):
        if self.receivers:
            wake_all(self.receivers)

    # -- the app's receive -------------------------------------------------------------------
    async def receive(self):
        if self.expect:  # the app asks for the body: the 100 is owed, whether the body came or not
            self.expect = False
            if not self.res.headers_sent:
                self.res.write_continue()
        waited_for_body = False
        while True:
            if self.complete or self.closed or self.req.socket.destroyed:
                # the response is sent, or the connection is gone (the spec's disconnect
                # "after the HTTP connection has been closed", as uvicorn answers it):
                # whatever the body held, the request is over
                return {"type": "http.disconnect"}
            chunks = self.chunks
            if chunks:
                self.chunks = None
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                if self.kept > _HIGH_WATER:
                    self.req.resume()
                self.kept = 0
                if not self.more:
                    self.body_taken = True
                return {"type": "http.request", "body": body, "more_body": self.more}
            if not self.more and not self.body_taken:
                self.body_taken = True
                return {"type": "http.request", "body": b"", "more_body": False}
            socket = self.req.socket
            listening = self.body_taken
            if listening and waited_for_body:  # another task took the end while this one waited
                return {"type": "http.request", "body": b"", "more_body": False}
            waited_for_body = not listening
            if listening:  # only the disconnect can come: the client's FIN is one
                if not socket.readable:
                    return {"type": "http.disconnect"}
                socket.on("end", self.wake)
            self.watch_close()
            if self.receivers is None:
                self.receivers = []
            try:
                await park(self.adapter.loop, self.receivers)
            finally:
                if listening:
                    socket.off("end", self.wake)

    # -- the app's send ----------------------------------------------------------------------
    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.body":
            if self.complete:
                raise RuntimeError("Unexpected ASGI message 'http.response.body' sent, after response already completed.")
            if self.closed or self.req.socket.destroyed:
                await sleep(0)  # the client is gone: dropped unchecked (spec 2.3; uvicorn), after a loop turn
                return
            if self.start is None:
                raise RuntimeError("Expected ASGI message 'http.response.start', but got 'http.response.body'.")
            res = self.res
            body = message.get("body", b"")
            if type(body) is not bytes:
                body = body_bytes(body)
            if not res.headers_sent and not message.get("more_body", False):
                # the common answer: the head's fields as one checked block, one send
                status, block, length = self.head_block()
                if length is not None and length != len(body) and self.req.method != "HEAD":
                    raise RuntimeError(f"Response content of {len(body)} bytes for a Content-Length of {length}.")
                self.complete = True
                self.chunks = None
                res.end_with(status, block, body)
                self.req.off("data", self.on_data)  # the rest of an unread body is dumped now (lost.py)
                if self.receivers:
                    self.wake()
                return
            if not res.headers_sent:
                self.write_head(res)
            remaining = self.remaining
            if remaining is not None:
                remaining -= len(body)
                if remaining < 0:
                    if res.head_out:
                        self.cut()  # the connection closes: the client never reads past the length
                    else:
                        res.reset_head()  # nothing is out: the app's error gets the client a 500
                    raise RuntimeError("Response content longer than Content-Length.")
                self.remaining = remaining
            if message.get("more_body", False):
                if not body:
                    res.send_head()  # an empty chunk: the head goes out now (event streams)
                else:
                    res.req.socket.turn_holds = False  # on the wire as send() returns, as uvicorn's
                    if not res.write(body) and not self.closed and not res.destroyed:
                        await self.wait_drain(res)
                return
            if remaining:
                self.cut()
                raise RuntimeError(f"Response content shorter than Content-Length ({remaining} bytes missing).")
            self.complete = True
            self.chunks = None
            res.end(body)
            self.req.off("data", self.on_data)  # the rest of an unread body is dumped now (lost.py)
            if self.receivers:
                self.wake()
            return
        if kind == "http.response.start":
            if self.closed or self.req.socket.destroyed:
                return
            if self.start is not None:
                raise RuntimeError("Expected ASGI message 'http.response.body', but got 'http.response.start'.")
            headers = message.get("headers")
            if headers is not None and type(headers) is not list and type(headers) is not tuple:
                message = {**message, "headers": tuple(headers)}  # a one-shot iterable: read once, here
            self.start = message
            self.adapter.loop.call_soon(self.head_due)
            return
        if isinstance(kind, str) and kind.startswith("http.response."):  # an extension's (trailers, push...)
            raise RuntimeError(f"Unexpected ASGI message {kind!r}: this server offers no such extension "
                               "(scope['extensions'] does not name it).")
        raise RuntimeError(f"Unexpected ASGI message {kind!r} sent for an HTTP request.")

    def head_due(self):
        """The app's task yielded after its start with no body sent: the head goes out."""
        res = self.res
        if self.complete or self.closed or self.expect or res.headers_sent or res.destroyed:
            return  # (a 100 Continue still owed goes first, when the app asks for the body)
        try:
            self.write_head(res)
        except Exception:  # a start that cannot be sent: the app's first body raises it
            res.reset_head()
            return
        res.send_head()

    def write_head(self, res):
        """Status and headers onto the response; the head is fixed by the first write."""
        status, block, length = self.head_block()
        res.status_code = status
        res.drop_body_writes = True  # (a body the status or method forbids: dropped, as uvicorn's)
        for name, value in block.pairs:
            res.set_header(name, value)
        if self.req.method != "HEAD":
            self.remaining = length

    def head_block(self):
        """The start message's status, its headers as a ``HeaderBlock`` (kept by the
        adapter for the next equal list) and the body length they declare (None: none
        declared, or a status without a body)."""
        start = self.start
        status = start["status"]
        if type(status) is not int:
            status = int(status)
        if not 200 <= status <= 999:
            # a 1xx is no final response: the client would take the next response on the
            # connection for this request's (WSGI refuses one as well)
            raise RuntimeError(f"Invalid HTTP status code {status!r} in response"
                               + (" (1xx is not a final status)." if 100 <= status < 200 else "."))
        headers = start.get("headers") or ()
        if type(headers) is not list and type(headers) is not tuple:
            headers = tuple(headers)  # any iterable (a generator), read once
        heads = self.adapter.heads
        try:
            key = tuple(headers)
            kept = heads.get(key)
        except TypeError:  # a name or value that is not hashable: not kept
            key = kept = None
        if kept is None:
            block = HeaderBlock.from_pairs(response_fields(headers))
            kept = (block, declared_length(block))
            if key is not None:
                if len(heads) >= _HEADS_KEPT:
                    heads.clear()
                heads[key] = kept
        block, length = kept
        if not block.plain and not chunked_last(block.headers.get("transfer-encoding")):
            # a body whose codings do not end in chunked ends with the connection
            # (RFC 9112 6.3): kept alive, the client would read the next response as body
            self.res.should_keep_alive = False
        if length is not None and status in _NO_BODY:
            length = None
        return status, block, length

    async def wait_drain(self, res):
        """Until the socket can take more: its buffer drained below the high-water mark
        while this response is on the wire; while a pipelined response ahead of it is
        still being answered, until that one is done (its bytes wait in ``res``)."""
        self.watch_close()
        socket = res.req.socket
        while not self.closed:
            if res.active:
                if socket.buffered_size < socket.high_water_mark:
                    return
                source, event = socket, "drain"
                socket.want_drain()
            else:
                source, event = socket.http_message, "close"  # the response ahead of this one
                if source is None:
                    return
            if self.drainers is None:
                self.drainers = []
            if not source.listener_count(event, self.drained):  # one wakes every send waiting
                source.once(event, self.drained)
            await park(self.adapter.loop, self.drainers)

    def drained(self, *_):
        if self.drainers:
            wake_all(self.drainers)

    # -- the app's task ----------------------------------------------------------------------
    async def run(self, app, scope, running):
        """The app's task; it leaves ``running`` (the adapter's live tasks) when done."""
        try:
            socket = self.req.socket
            if not self.res.active or socket.buffered_size >= socket.high_water_mark:
                # pipelined behind another response, or one still going out: the app is
                # called once that one is done and the socket's buffer is below its
                # high-water mark (uvicorn runs one request of a connection at a time),
                # so a client that pipelines and never reads holds one response at most
                await self.wait_drain(self.res)
                if self.closed or socket.destroyed:
                    return
            await app(scope, self.receive, self.send)
        except GeneratorExit:
            raise  # the coroutine is being closed (its loop is gone): nothing may be scheduled
        except BaseException as exc:
            req = self.req
            if not (self.adapter.cancelling and isinstance(exc, CancelledError)):  # else: the drain's end
                log.error("Exception in ASGI application (%s %s)", req.method, req.url, exc_info=exc)
            self.fail()
            if isinstance(exc, CancelledError):
                raise  # the task was cancelled; SystemExit and the like end this request only
            return
        finally:
            running.discard(self.task)
        if not self.complete:
            if self.client_gone():
                pass  # the client left first (the app may have been told so): nothing to report
            elif self.start is not None:
                log.error("ASGI callable returned without completing response.")
            else:
                log.error("ASGI callable returned without starting response.")
            self.fail()

    def client_gone(self):
        """The connection is closed, or the client has sent its FIN."""
        socket = self.req.socket
        return self.closed or socket.destroyed or not socket.readable

    def cut(self):
        """The response cannot be completed as declared: the connection closes."""
        self.complete = True
        self.chunks = None
        self.res.destroy()
        self.wake()

    def fail(self):
        """A 500 while no byte of the response is out and the client is there; else the
        connection closes (a client gone is not answered: it is logged 499, as unanswered)."""
        res = self.res
        self.complete = True
        if self.closed or res.writable_ended:
            return
        if res.headers_sent or res.head_out or self.client_gone():
            res.destroy()
            return
        res.reset_head()
        res.write_head(500, _ERROR_HEAD)
        res.end(_ERROR_BODY)
        self.wake()

