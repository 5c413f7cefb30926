"""The HTTP answer a WebSocket app sends in place of the 101: the 403 for a
``websocket.close`` before the accept, and the denial extension's own response.

Rules:
- ``send_answer()`` takes the app's messages while its session is ``connecting`` or in a
  denial (``response``); the session's ``send()`` routes them here and keeps the rest.
- A denial's body is taken as the HTTP side takes one (``heads.body_bytes``: None, a
  ``str`` as UTF-8, any buffer as its bytes; another type raises TypeError).
- A denial's head goes out with its first body message (as the HTTP side writes it); a
  status no denial may have, or a header no response may carry, raises at the start,
  while a 500 can still be answered.
- Once the answer is complete (the 403 written, the denial's last body message sent) the
  session's ``answered`` names it: a message the app sends after it is a mistake of the
  app's, not a client that left, and raises ``RuntimeError`` saying so (uvicorn raises
  one too), even once the socket has closed behind the answer.
"""

from .handshake import Denial, denial_status, forbidden
from .heads import body_bytes


def after_answer(kind, answered):
    return RuntimeError(f"Unexpected ASGI message {kind!r}: the handshake was already answered with "
                        f"{answered}, and that answer is complete (nothing more may be sent on this connection).")


async def send_answer(session, kind, message):
    if session.state == "connecting":
        if kind == "websocket.accept":
            session.accept(message)
            return
        if kind == "websocket.close":
            session.state = "closed"
            session.answered = "a 403 (the app's 'websocket.close' before 'websocket.accept')"
            session.answer = 403
            session.write(forbidden())
            session.socket.destroy_soon()
            session.queue_disconnect(1006, "")
            return
        if kind == "websocket.http.response.start":
            status = denial_status(message["status"])  # (raises for one no denial may have)
            # a bad header raises here, while a 500 can still be answered
            session.denial = Denial(status, message.get("headers", []))
            session.answer = status
            session.state = "response"  # the head goes with the first body message
            return
        raise RuntimeError("Expected ASGI message 'websocket.accept', 'websocket.close' or "
                           f"'websocket.http.response.start', but got {kind!r}.")
    if kind != "websocket.http.response.body":  # state == "response"
        raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body', but got {kind!r}.")
    finished = not message.get("more_body", False)
    body = message.get("body", b"")
    if type(body) is not bytes:  # None, str (UTF-8) and buffers as on HTTP; an int raises
        body = body_bytes(body, "websocket.http.response.body")
    data = session.denial.body(body, finished)
    if not session.denial_out:
        session.denial_out = True
        data = session.denial.head() + data
    if not session.write(data) and not finished:
        await session.wait_drain()  # to a client that does not read, a socket buffer's worth at most
    elif finished:
        session.state = "closed"
        session.answered = f"the app's denial response ({session.answer})"
        session.socket.destroy_soon()
        session.queue_disconnect(1006, "")
