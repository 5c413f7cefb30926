"""The body rules both kinds of WSGI call share (on the loop: ``wsgi/response.py``; on
threads: ``wsgi/threads.py``); the head's are ``wsgi/head.py``.

Rules:
- The app's Content-Length is kept to (unless the answer has no body: HEAD, 204,
  304): a longer body is cut to it, a shorter one closes the connection once what
  there is has gone out, so the client never reads the next response as this one's
  body. Both are logged.
- A whole body (a list or tuple) goes out with one ``end(data)``; HEAD gets the
  Content-Length GET would have. One over ``HEAD_ALONE`` goes out after its head, not
  joined to it: the socket holds the app's bytes, never a copy of them.
- A second ``start_response`` needs ``exc_info`` (PEP 3333), and once the head is out
  that error is raised again in the app.
- The app failed: a canned 500 (or 413 for a body over the limit; a 500 that closes the
  connection for a call the worker's abort stopped, ``CallAborted``) while the head is
  not out; else the connection closes once what was written has gone out, this body
  left short of its framing, so the client sees it cut.
- ``close()`` of the iterable is called by the caller exactly once; one that raises is
  logged.
- On the loop, the app's code (its iteration, its ``close()``) runs as under a
  synchronous server (``as_app_code``): in the worker's one context, with no running
  loop registered.
"""

import logging
from asyncio import _get_running_loop, _set_running_loop  # the stdlib's hooks for loop implementations

log = logging.getLogger("prefork.wsgi")


HEAD_ALONE = 256 * 1024  # a whole body over this goes out after its head, not joined to it (a copy)


class CallAborted(BaseException):
    """Raised into a call on the loop the worker's abort stops (stuck past ``timeout``:
    plugging.abort); a BaseException, so an app's ``except Exception`` lets it through,
    as gunicorn's SystemExit. Its 500 closes the connection: the worker dies next."""


def promised_length(res, method):
    """Body bytes the head promises (the app's Content-Length), or None when nothing is
    promised: no Content-Length, or an answer without a body (HEAD, 204, 304)."""
    value = res.get_header("content-length")
    if value is None or method == "HEAD" or not res.has_body_status():
        return None
    return int(value)


def body_allowed(status, headers, head_only):
    """Body bytes a head allows: -1 for an answer without a body (HEAD, 1xx, 204, 304),
    its Content-Length when it gives one, else None (not known)."""
    code = status[:3] if isinstance(status, str) else ""
    if head_only or code in ("204", "304") or code[:1] == "1":
        return -1
    for name, value in headers:
        if isinstance(name, str) and name.lower() == "content-length":
            value = value.strip() if isinstance(value, str) else ""
            return int(value) if value.isdigit() and value.isascii() else None
    return None


def over_length(req, promised):
    log.error("WSGI app for %s %s sent more than its Content-Length (%s): the body is cut to it",
              req.method, req.url, promised)


def under_length(req, res, missing):
    """The body is ``missing`` bytes short of its Content-Length: the connection closes
    after what was sent (the next response must not pass as the rest of this one).
    When the head is not out yet, it says so (``res`` is ended as usual; False). Else
    the socket closes once what was written has gone out (the tail of a pipelined
    response before this one included) and ``res`` is left unended, so no later
    response starts on the connection: True, and the caller does not end it. A body
    cut because its client left (the app was not let finish it) is no error of the
    app's: said at debug level only."""
    if res.req.socket is not None and res.req.socket.destroyed:
        log.debug("WSGI app for %s %s: the client left %d bytes before its Content-Length", req.method,
                  req.url, missing)
    else:
        log.error("WSGI app for %s %s sent %d bytes less than its Content-Length: the connection closes",
                  req.method, req.url, missing)
    if not res.headers_sent:
        res.set_header("Connection", "close")
        return False
    res.req.socket.destroy_soon()
    return True


def end_whole(res, names, data, method, req=None):
    """End ``res`` with the whole body ``data`` (one send)."""
    if method == "HEAD" and "content-length" not in names and res.has_body_status():
        res.set_header("Content-Length", str(len(data)))  # as GET would have it
    if req is not None and "content-length" in names:
        data = kept_to(req, res, promised_length(res, method), data)
    if len(data) > HEAD_ALONE and method != "HEAD" and res.has_body_status() and not res.headers_sent:
        end_large(res, names, data)
        return
    res.end(data)


def end_large(res, names, data):
    """End ``res`` with a large whole body: the head goes first on its own, then the
    body as it is, so the socket keeps the app's bytes (a view of what the kernel has
    not taken) rather than a copy joined to the head: a slow reader of a 100 MB body
    costs 100 MB, not 200 MB while its call waits with the app's bytes."""
    if "content-length" not in names and res.can_chunk:  # (HTTP/1.0's ends at the close, as before)
        res.set_header("Content-Length", str(len(data)))
    res.send_head()
    if res.active:  # the head to the kernel now, even within a read whose answers go out together:
        res.req.socket.flush()  # queued with it, the body would be joined to it all the same
    res.end(data)


def kept_to(req, res, promised, data):
    """The whole body ``data`` kept to the ``promised`` length (None: no promise)."""
    if promised is not None and promised != len(data):
        if len(data) > promised:
            over_length(req, promised)
            return data[:promised]
        under_length(req, res, promised - len(data))  # the head is not out: it says close
    return data


def check_restart(head_out, exc_info):
    """A ``start_response`` call that is not the first plain one (PEP 3333): it needs
    ``exc_info``, and once the head is out that error is raised again in the app."""
    if exc_info is None:
        raise AssertionError("start_response called twice without exc_info")
    try:
        if head_out:
            raise exc_info[1].with_traceback(exc_info[2])
    finally:
        exc_info = None


def answer_failure(res, status=500, close=False):
    """The app failed: a canned answer if the head is not out, else close the connection
    once what was written before has gone out (the tail of a pipelined response before
    this one included); this response's body stays short of its framing (no last chunk,
    fewer bytes than its Content-Length): the client sees it cut."""
    if res.headers_sent or res.writable_ended:
        res.req.socket.destroy_soon()
        return
    res.reset_head()
    if status == 413:
        res.write_head(413, {"Content-Type": "text/plain", "Connection": "close", "Content-Length": "24"})
        res.end(b"Request body too large.\n")
        return
    res.write_head(500, {"Content-Type": "text/plain", "Content-Length": "22", **({"Connection": "close"} if close else {})})
    res.end(b"Internal Server Error\n")


def close_iterable(iterable):
    close = getattr(iterable, "close", None)
    if close is not None:
        try:
            close()
        except BaseException:
            log.exception("error closing the WSGI response iterable")


def as_app_code(context, function, argument):
    """``function(argument)`` as the app's code (module rules): in ``context``, the
    worker's one context for the app, with no running loop registered. Inside the app's
    code already (no running loop), it is called as is."""
    running = _get_running_loop()
    if running is None:
        return function(argument)
    _set_running_loop(None)
    try:
        return context.run(function, argument)
    finally:
        _set_running_loop(running)
