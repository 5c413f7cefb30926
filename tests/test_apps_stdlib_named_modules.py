"""A project with files named as standard library modules prefork imports in the
worker after the app (``random.py``, ``queue.py``, ``tempfile.py`` beside the app,
which does not import them by those names): gunicorn and uvicorn serve it, and so
does prefork: its adapters' imports do not take the project's files for the standard
library's."""

import pytest

from test_app_loading import console_script, prefork_m, write


PROJECT = {
    "random.py": "def pick(items):\n    return items[0]\n",
    "queue.py": "JOBS = []\n",
    "tempfile.py": "SCRATCH = '/nowhere'\n",
    "wsgiapp.py": """
        import json

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"app": "wsgi"}).encode()]
    """,
    "asgiapp.py": """
        import json

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": json.dumps({"app": "asgi"}).encode()})
    """,
}


@pytest.mark.parametrize("launcher", ["console script", "python -m"])
@pytest.mark.parametrize("app,args,expected", [
    ("wsgiapp:app", [], {"app": "wsgi"}),
    ("wsgiapp:app", ["--threads", "4"], {"app": "wsgi"}),
    ("asgiapp:app", [], {"app": "asgi"}),
])
def test_project_modules_named_as_the_stdlib_ones_do_not_break_the_worker(runs, tmp_path, launcher, app, args,
                                                                        expected):
    project = write(tmp_path / "proj", PROJECT)
    command = [console_script(tmp_path)] if launcher == "console script" else prefork_m()
    run = runs([*command, app, *args], cwd=project)
    run.wait_ready()
    assert run.get_json() == expected
    assert "Traceback" not in run.log(), run.log()
