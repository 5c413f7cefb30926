"""An events app that tells the client what its TLS connection looks like from the server."""

import json
import os


def setup(server):
    def on_request(req, res):
        if req.url == "/big":
            res.end(b"x" * (4 * 1024 * 1024))
            return
        socket = req.socket
        given = socket.get_peer_certificate()  # {} when the client sent none (Node's getPeerCertificate)
        cert = given or {}
        subject = dict(item for rdn in cert.get("subject", ()) for item in rdn)
        body = json.dumps({"pid": os.getpid(), "encrypted": socket.encrypted, "protocol": socket.get_protocol(),
                           "alpn": socket.alpn_protocol, "authorized": socket.authorized,
                           "servername": socket.servername,
                           "peer_cn": subject.get("commonName"), "peer_serial": cert.get("serialNumber"),
                           "peer_certificate": None if given is None else "empty" if given == {} else "decoded"})
        res.set_header("Content-Type", "application/json")
        res.end(body)
    server.on("request", on_request)


def wsgi_scheme(environ, start_response):
    """WSGI: the URL scheme the server put in the environ."""
    body = environ["wsgi.url_scheme"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def asgi_scheme(scope, receive, send):
    """ASGI: the scope's scheme and client, as the server gave them."""
    if scope["type"] != "http":
        return
    body = f"{scope['scheme']} {scope['client'][0]}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
