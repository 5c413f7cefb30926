"""A Starlette StreamingResponse whose generator reads the request body as it streams
(``request.stream()``): Starlette (ASGI spec 2.3) runs its disconnect listener's
``receive()`` beside the generator's, so both wait when the body's end comes."""

from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route


async def relay(request):
    async def lines():
        yield b"started\n"
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        yield b"body read\n"

    return StreamingResponse(lines(), media_type="text/plain")


app = Starlette(routes=[Route("/relay", relay, methods=["POST"])])
