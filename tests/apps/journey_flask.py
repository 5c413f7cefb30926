"""A Flask 3 app made by a factory, as gunicorn users write it
(``gunicorn 'apps.journey_flask:create_app()'``), for the journey tests."""

import hashlib
import os

from flask import Flask, Response, request, send_file, stream_with_context, url_for


def _wait_on(fifo):
    with open(fifo, "rb") as fh:
        fh.read(1)


def create_app(name="journey", files_dir=None):
    app = Flask(name)
    files_dir = files_dir or os.getcwd()

    @app.post("/upload")
    def upload():
        out = {"fields": request.form.to_dict(flat=False), "files": {}}
        for field, stored in request.files.items(multi=True):
            data = stored.read()
            out["files"][field] = {"filename": stored.filename, "size": len(data),
                                   "sha256": hashlib.sha256(data).hexdigest()}
        return out

    @app.post("/body")
    def body():
        data = request.get_data()
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "content_length": request.environ.get("CONTENT_LENGTH")}

    @app.get("/stream")
    def stream():
        fifo = request.args["fifo"]

        @stream_with_context
        def lines():
            yield f"first {request.args['who']}\n"
            _wait_on(fifo)
            yield f"second {request.path}\n"
        return Response(lines(), mimetype="text/plain")

    @app.get("/file/<int:size>")
    def file(size):
        path = os.path.join(files_dir, f"f{size}.bin")
        if not os.path.exists(path):
            with open(path + ".part", "wb") as fh:
                fh.write(bytes(i % 251 for i in range(size)))
            os.replace(path + ".part", path)
        return send_file(path, mimetype="application/octet-stream", conditional=True, etag=True)

    @app.get("/café/<name>")
    def non_ascii(name):
        return {"name": name, "path": request.path, "raw": request.environ["PATH_INFO"]}

    @app.get("/where")
    def where():
        return {"url": url_for("where"), "external": url_for("where", _external=True),
                "script_name": request.environ["SCRIPT_NAME"], "path": request.path}

    @app.get("/nothing")
    def nothing():
        return "", 204

    return app
