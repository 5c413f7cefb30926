"""A Starlette app whose ``/big`` streams from an async generator that never awaits
(chunks made in memory): after its client is gone, only the server's ``send()`` can
give the disconnect listener Starlette runs beside it a loop turn. ``/`` answers ``ok``."""

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route


async def big(request):
    async def stream():  # never awaits anything itself
        while True:
            yield b"z" * 65536
    return StreamingResponse(stream())


async def root(request):
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/big", big), Route("/", root)])
