"""An events app answering with its connection's local side as the socket tells it
(``address()``, ``local_family``), the peer it was told (``remote_family``,
``remote_address``) and whether the TCP options could be set (JSON)."""

import json


def setup(server):
    def on_request(req, res):
        s = req.socket
        out = {"address": s.address(), "local_family": s.local_family,
               "remote": [s.remote_family, s.remote_address, s.remote_port]}
        try:
            s.set_no_delay(True)
            s.set_keep_alive(True, 5)
            out["options"] = "set"
        except Exception as exc:
            out["options"] = repr(exc)
        res.end(json.dumps(out))
    server.on("request", on_request)
