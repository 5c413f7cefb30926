"""A small Flask 3 app served unchanged by prefork and by gunicorn in the framework
tests."""

import asyncio

from flask import Flask

app = Flask(__name__)


@app.get("/async-view")
async def async_view():  # Flask runs it with asgiref's async_to_sync
    await asyncio.sleep(0)
    return "flask async view"
