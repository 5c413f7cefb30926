"""WebSocket apps whose denial response (the ``websocket.http.response`` extension)
declares a ``Content-Length`` its body does not keep, or one that is not a length; each
records what its sends raised in the file named by ``ASGI_DENIAL_LOG``."""

import os

CASES = {  # path: (the declared Content-Length values, the body messages)
    "/long-whole": ([b"2"], [b"abcdef"]),
    "/long-later": ([b"4"], [b"ab", b"cdef"]),
    "/short-whole": ([b"10"], [b"abc"]),
    "/short-later": ([b"6"], [b"abc", b"d"]),
    "/exact": ([b"6"], [b"abc", b"def"]),
    "/not-a-number": ([b"abc"], [b"abc"]),
    "/conflicting": ([b"3", b"4"], [b"abc"]),
    "/repeated": ([b"3", b"3"], [b"abc"]),
    "/no-body-status": ([b"10"], [b"ignored"]),  # a 304: no body, whatever the length says
}


def note(line):
    with open(os.environ["ASGI_DENIAL_LOG"], "a") as fh:
        fh.write(line + "\n")


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()
    lengths, bodies = CASES[scope["path"]]
    status = 304 if scope["path"] == "/no-body-status" else 401
    try:
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain")] + [(b"content-length", n) for n in lengths]})
        for n, body in enumerate(bodies):
            await send({"type": "websocket.http.response.body", "body": body, "more_body": n < len(bodies) - 1})
    except Exception as err:
        note(f"{scope['path']} {type(err).__name__}")
        raise
    note(f"{scope['path']} returned")
