"""The Agent's hooks that client code overrides, Node's names (a mixin of ``Agent``,
client/agent.py, which calls them): ``create_connection``, ``keep_socket_alive`` and
``reuse_socket``.

Rules:
- ``create_connection(options)`` makes a new connection's socket, a
  ``prefork.net.Socket`` on ``options["loop"]``; what it raises fails its request.
- ``keep_socket_alive(socket)`` is asked only once the rest allows pooling; one that
  raises is logged and counts as False (the socket closed, never left out of the pool
  and open).
- ``reuse_socket(socket, req)`` is called as a pooled socket is taken for ``req``; what
  it raises fails that request (the agent closes the socket).
"""

import logging

from ..net import Socket

log = logging.getLogger("prefork.client")


class AgentHooks:
    """Mixed into ``Agent``."""

    def create_connection(self, options):
        """The socket of a new connection (Node's ``agent.createConnection``): a
        ``prefork.net.Socket`` to ``options``' ``host`` and ``port`` (or its
        ``socket_path``) on ``options["loop"]``, from its ``local_address`` and
        ``local_port``, resolved with its ``family``, ``lookup`` and ``hints`` and its
        ``auto_select_family`` options when given. A subclass (or an instance attribute) may make it otherwise; what it
        raises fails the request (``error``, ``close``)."""
        local = {name: options[name] for name in ("local_address", "local_port", "family", "lookup", "hints",
                                                  "auto_select_family", "auto_select_family_attempt_timeout")
                 if name in options}
        return Socket.connect(options["loop"], options["host"], options["port"], path=options["socket_path"], **local)

    def keep_socket_alive(self, socket):
        """Node's ``agent.keepSocketAlive(socket)``, a hook to override: asked, once the
        rest allows it, whether a kept-alive socket that nobody waits for goes to the
        pool (True) or is closed (False). (Node's sets the socket's keep-alive and
        timeout here; the agent does so after it.)"""
        return True

    def _keeps(self, socket):
        """``keep_socket_alive(socket)``; one that raises is logged and counts as False
        (the socket is closed, not left out of the pool and open)."""
        try:
            return self.keep_socket_alive(socket)
        except Exception:
            log.exception("error in an agent's keep_socket_alive; closing the socket")
            return False

    def reuse_socket(self, socket, req):
        """Node's ``agent.reuseSocket(socket, request)``, a hook to override: a pooled
        socket is about to be given to ``req`` (which then has ``reused_socket``)."""
