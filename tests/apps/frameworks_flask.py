"""A small Flask 3 app served unchanged by prefork and by gunicorn in the framework
tests."""

import asyncio

from flask import Flask, Response, request, stream_with_context

app = Flask(__name__)


@app.get("/async-view")
async def async_view():  # Flask runs it with asgiref's async_to_sync
    await asyncio.sleep(0)
    return "flask async view"


@app.get("/legacy-loop")
def legacy_loop():
    """Older sync wrappers run a coroutine on the thread's event loop."""
    loop = asyncio.get_event_loop()
    return loop.run_until_complete(asyncio.sleep(0, result="legacy loop"))


@app.get("/stream-large")
def stream_large():
    """BLOCKS blocks of 64 KiB of FILL, each made with the request context in hand
    (``stream_with_context``): more than a socket's buffers hold, so a client that
    waits before reading makes the server pause the generator and resume it."""
    blocks = int(request.args["blocks"])

    @stream_with_context
    def generate():
        for _ in range(blocks):
            yield request.args["fill"].encode() * 65536
    return Response(generate(), mimetype="application/octet-stream")


ENDED = []  # the paths whose request context was torn down


@app.teardown_request
def _torn_down(exc):
    ENDED.append(request.path)


@app.get("/ended")
def ended():
    return {"stream-large": ENDED.count("/stream-large")}
