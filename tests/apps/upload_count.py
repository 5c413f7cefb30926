"""An events app that takes request bodies and never answers them; GET /count says how
many body bytes it took so far, over all connections."""

taken = [0]


def setup(server):
    def on_request(req, res):
        if req.url == "/count":
            res.end(str(taken[0]))
            return

        def data(chunk):
            taken[0] += len(chunk)
        req.on("data", data)  # taken and dropped: the app holds none of it
    server.on("request", on_request)
