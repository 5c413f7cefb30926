"""An events app that takes its request's method from ``X-HTTP-Method-Override``, as
method-override middlewares do (``req.method`` is the app's to set, as in Node)."""


def setup(server):
    def on_request(req, res):
        req.method = req.headers.get("x-http-method-override", req.method)
        res.end("ok")
    server.on("request", on_request)
