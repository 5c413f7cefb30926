"""prefork's twin of tests/echo_server.js: the event server with its defaults, each request
answered on its 'end' with JSON [method, url, http_version, raw_headers, headers, body
length, raw_trailers, trailers]; the same event lines and stdin commands. Usage: python echo_server.py"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import prefork  # noqa: E402
from prefork.runtime import new_event_loop  # noqa: E402
from stdin_commands import read_commands  # noqa: E402


def log(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main():
    server = prefork.create_server(loop=new_event_loop("asyncio"))
    loop = server.loop
    ids = {"next": 0}

    def on_connection(socket):
        ids["next"] += 1
        socket.echo_id = ids["next"]
        log(ev="accept", conn=socket.echo_id, port=socket.remote_port)
    server.on("connection", on_connection)

    def on_request(req, res):
        log(ev="request", conn=req.socket.echo_id, method=req.method, url=req.url, v=req.http_version)
        length = [0]

        def on_data(chunk):
            length[0] += len(chunk)

        def on_end():
            echo = [req.method, req.url, req.http_version, req.raw_headers, req.headers, length[0],
                    req.raw_trailers, req.trailers]
            res.end(json.dumps(echo, ensure_ascii=False, separators=(",", ":")).encode())
        req.on("data", on_data)
        req.on("end", on_end)
    server.on("request", on_request)

    read_commands(loop, {"sync": lambda: log(ev="sync")})
    server.listen(0, "127.0.0.1", lambda: log(ev="listening", port=server.address()["port"]))
    loop.run_forever()


if __name__ == "__main__":
    main()
