"""ASGI 2 apps that are not classes: a plain ``app(scope)`` (or an object called so)
returning an async ``(receive, send)``, as uvicorn serves them (``--interface asgi2``,
or recognised): recognised by the parameter's name ``scope``, else said with
``--interface asgi`` (a one-parameter callable is otherwise an events setup)."""

import pytest

from daemon import wait_until
from test_app_loading import prefork_m, write


ASGI2 = """
    import json

    def respond(scope):
        async def instance(receive, send):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": json.dumps({"path": scope["path"]}).encode()})
        return instance

    def app(scope):
        if scope["type"] == "lifespan":
            async def lifespan(receive, send):
                message = await receive()
                await send({"type": "lifespan.startup.complete"})
                await receive()
                await send({"type": "lifespan.shutdown.complete"})
            return lifespan
        return respond(scope)

    class Router:
        def __call__(self, scope):
            return app(scope)

    router = Router()

    def other(connection):  # its parameter says nothing
        return respond({"path": "/other"})
"""


@pytest.mark.parametrize("attribute,interface", [("app", "auto"), ("app", "asgi"), ("router", "asgi")])
def test_an_asgi2_callable_serves(runs, tmp_path, attribute, interface):
    project = write(tmp_path / "proj", {"legacy.py": ASGI2})
    run = runs(prefork_m(f"legacy:{attribute}", "--interface", interface), cwd=project)
    run.wait_ready()
    assert run.get_json("/x") == {"path": "/x"}
    assert "Traceback" not in run.log(), run.log()


def boot_error(run):
    wait_until(lambda: run.proc.poll() is not None or "workers ready" in run.log(), 60, what="the boot's end")
    assert run.wait_exit() == 3, run.log()
    return run.log()


def test_an_asgi2_function_without_interface_is_told_to_pass_interface_asgi(runs, tmp_path):
    project = write(tmp_path / "proj", {"legacy.py": ASGI2})
    log = boot_error(runs(prefork_m("legacy:other"), cwd=project))
    assert ("worker 0: legacy:other was called as an events setup(server) and returned a function (respond.<locals>.instance), an "
            "app: if it is an app factory, write APP as 'legacy:other()'; if it is an ASGI 2 app(scope), pass "
            "--interface asgi\n") in log, log


def test_an_asgi2_function_said_outright_serves(runs, tmp_path):
    project = write(tmp_path / "proj", {"legacy.py": ASGI2})
    run = runs(prefork_m("legacy:other", "--interface", "asgi"), cwd=project)
    run.wait_ready()
    assert run.get_json("/x") == {"path": "/other"}


def test_a_setup_named_for_the_server_is_still_refused_under_interface_asgi(runs, tmp_path):
    project = write(tmp_path / "proj", {"events.py": """
        def setup(server):
            server.on("request", lambda req, res: res.end("events"))
    """})
    log = boot_error(runs(prefork_m("events:setup", "--interface", "asgi"), cwd=project))
    assert ("worker 0: events:setup is a function setup(server), an events setup(server), not an ASGI "
            "application: pass --interface events (or leave interface at auto)\n") in log, log
