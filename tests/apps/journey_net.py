"""An events app for the transport journeys: sized downloads, hashed uploads, a slow
drip, and who served the request."""

import hashlib
import json
import os


def setup(server):
    def on_request(req, res):
        path = req.url
        if path.startswith("/big/"):  # /big/N: N bytes of a repeating pattern, Content-Length framed
            size = int(path.split("/")[2])
            res.set_header("Content-Length", str(size))
            res.end(pattern(size))
            return
        if path == "/upload":  # the size and SHA-256 of the request body
            digest, size = hashlib.sha256(), [0]

            def on_data(chunk):
                digest.update(chunk)
                size[0] += len(chunk)
            req.on("data", on_data)
            req.on("end", lambda: res.end(f"{size[0]} {digest.hexdigest()}".encode()))
            return
        socket = req.socket
        res.set_header("Content-Type", "application/json")
        res.end(json.dumps({"pid": os.getpid(), "encrypted": socket.encrypted, "protocol": socket.get_protocol(),
                            "alpn": socket.alpn_protocol, "family": socket.remote_family}))
    server.on("request", on_request)


def pattern(size):
    """``size`` bytes whose every 1 KiB block differs from its neighbours (a lost or
    repeated block shows)."""
    blocks = (size + 1023) // 1024
    return b"".join(f"{i:08d}".encode() * 128 for i in range(blocks))[:size]
