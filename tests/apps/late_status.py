"""An events app that sets its status after the response went out (the head is sent:
the attribute is only the app's now): text with a space, or a float that is no int."""


def setup(server):
    kinds = {"/space": "20 0", "/inf": float("inf")}

    def on_request(req, res):
        res.end("ok")
        res.status_code = kinds.get(req.url, 200)
    server.on("request", on_request)
