"""An events app whose handlers await real asyncio libraries (the ecosystem test).

Routes: ``/`` answers at once (a plain listener); ``/sleep`` awaits asyncio.sleep(0.2);
``/redis`` a BLPOP with a 0.2 s timeout on a real Redis (REDIS_SOCKET) through redis-py's
asyncio client; ``/httpx`` and ``/prefork`` fetch ``UPSTREAM/slow`` with httpx's
AsyncClient and with prefork's own client.
"""

import asyncio
import os

import prefork


def setup(server):
    upstream = os.environ.get("UPSTREAM", "")
    clients = {}

    async def slow(req, res):
        path = req.url
        if path == "/sleep":
            await asyncio.sleep(0.2)
            res.end("slept")
        elif path == "/redis":
            if "redis" not in clients:
                import redis.asyncio as aioredis
                clients["redis"] = aioredis.Redis(unix_socket_path=os.environ["REDIS_SOCKET"])
            r = clients["redis"]
            await r.blpop("prefork:nothing", timeout=0.2)
            hits = await r.incr("prefork:hits")
            res.end(f"redis {hits}")
        elif path == "/httpx":
            if "httpx" not in clients:
                import httpx
                clients["httpx"] = httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=200))
            reply = await clients["httpx"].get(upstream + "/slow")
            res.end("httpx " + reply.text)
        elif path == "/prefork":
            reply = await prefork.get(upstream + "/slow")
            body = await reply.read()
            res.end(b"prefork " + body)
        else:
            res.status_code = 404
            res.end("not found")

    def on_request(req, res):
        if req.url == "/":
            res.end("plain")
            return None
        return slow(req, res)
    server.on("request", on_request)
