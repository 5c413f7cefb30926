"""The server's ``request_call``: what a connection calls with a request and its response
to tell the server's ``request`` listeners (a part of ``Server``).

Rules:
- ``request_call(req, res)`` is the one ``request`` listener itself while there is
  exactly one (as ``emit`` calls it, without the emit between: the usual server has its
  application's), else the server's ``emit("request", ...)`` (none, or several). It
  returns what the call returned: a caller hands a result whose type is not in the
  emitter's ``PLAIN_RESULTS`` to ``listener_returned`` (a coroutine becomes a task, as
  ``emit`` makes it).
- It is brought up to date by every way a ``request`` listener comes or goes: ``on``
  (``add_listener``, ``once``), the ``prepend`` forms, ``off`` (``remove_listener``,
  a ``once`` listener taking itself off as it runs) and ``remove_all_listeners``, also
  when the change raises (a 'newListener' or 'removeListener' listener's error): it
  then tells the listeners the change left.
- The server has no context of its own (``context`` stays None): the caller runs the
  call in the request's context, as ``emit`` would run its listeners.
"""

from functools import partial


class RequestCall:
    """``Server``'s ``request_call`` and the listener changes that keep it (module rules);
    before ``EventEmitter`` in the server's bases."""

    request_call = None  # set by _request_listeners_changed from the server's __init__ on

    def on(self, event, listener):
        return self._changing(super().on, event, listener)

    add_listener = on

    def prepend_listener(self, event, listener):
        return self._changing(super().prepend_listener, event, listener)

    def off(self, event, listener):
        return self._changing(super().off, event, listener)

    remove_listener = off

    def remove_all_listeners(self, event=None):
        return self._changing(super().remove_all_listeners, event)

    def _changing(self, change, event, *listener):
        """``change(event, *listener)``, then ``request_call`` brought up to date when it
        concerned ``request`` listeners (``event`` None: every event's), even when the
        change raised (a 'removeListener' listener raises after the listener went)."""
        try:
            change(event, *listener)
        finally:
            if event is None or event == "request":
                self._request_listeners_changed()
        return self

    def _request_listeners_changed(self):
        listeners = self._events.get("request") if self._events else None
        if listeners and len(listeners) == 1:
            self.request_call = listeners[0]
        else:
            self.request_call = partial(self.emit, "request")
