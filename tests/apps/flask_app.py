"""An ordinary Flask app, unchanged, for the WSGI daemon tests."""

import hashlib

from flask import Flask, Response, jsonify, redirect, request, stream_with_context, url_for

app = Flask(__name__)


@app.get("/json")
def json_route():
    return jsonify(ok=True, items=[1, 2, 3], agent=request.headers.get("User-Agent"))


@app.post("/form")
def form_route():
    return jsonify(name=request.form["name"], tags=request.form.getlist("tag"))


@app.post("/upload")
def upload_route():
    data = request.files["file"].read()
    return jsonify(filename=request.files["file"].filename, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   note=request.form.get("note"))


@app.get("/stream")
def stream_route():
    @stream_with_context
    def generate():
        for i in range(5):
            yield f"line {i}\n"
    return Response(generate(), mimetype="text/plain")


@app.get("/go")
def go_route():
    return redirect(url_for("json_route"))


@app.get("/cookie/set")
def set_cookie_route():
    response = Response("set")
    response.set_cookie("flavour", "oatmeal")
    return response


@app.get("/cookie/get")
def get_cookie_route():
    return request.cookies.get("flavour", "none")


@app.get("/boom")
def boom_route():
    raise RuntimeError("the Flask view broke")
