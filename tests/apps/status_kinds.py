"""An events app that sets its status as Node allows, not only as an int: a float
(``201.0``), a str (``"202"``) or an IntEnum; Node coerces each to the int it sends."""

from http import HTTPStatus


def setup(server):
    kinds = {"/float": 201.0, "/str": "202", "/enum": HTTPStatus.ACCEPTED, "/int": 201}

    def on_request(req, res):
        res.status_code = kinds.get(req.url, 200)
        res.end("ok")
    server.on("request", on_request)
