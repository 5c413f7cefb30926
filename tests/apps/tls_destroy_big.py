"""Events app: /big ends a 32 MiB body, then destroys its socket 0.3 s later (the client
has stopped reading: most of the body is still queued), noting how much the worker's peak
memory grew across the destroy; /peak answers that growth in KiB; /end-destroy ends 1 MB
and destroys its socket at once."""

import resource

BIG = bytes(range(256)) * (32 * 1024 * 1024 // 256)  # made once at import
GROWTH = []


def setup(server):
    def on_request(req, res):
        if req.url == "/peak":
            res.end(str(GROWTH[-1]) if GROWTH else "none")
            return
        if req.url == "/end-destroy":  # 1 MB, destroyed in the same turn: what the kernel takes goes
            res.end(BIG[:1000000])
            res.socket.destroy()
            return
        res.end(BIG)
        socket = res.socket

        def destroy():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            socket.destroy()
            GROWTH.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
        server.loop.call_later(0.3, destroy)
    server.on("request", on_request)
