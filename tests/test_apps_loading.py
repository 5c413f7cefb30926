"""App loading, as users of gunicorn and uvicorn name their apps: what is not an app
at all is refused at boot in one line whatever ``--interface`` says."""

import pytest

from daemon import wait_until
from test_app_loading import prefork_m, write


@pytest.mark.parametrize("interface", ["auto", "wsgi", "asgi", "events"])
def test_an_attribute_that_cannot_be_called_is_one_line_at_boot_under_every_interface(runs, tmp_path,
                                                                                        interface):
    project = write(tmp_path / "proj", {"settingsmod.py": "app = {'debug': True}\n"})
    run = runs(prefork_m("settingsmod:app", "--interface", interface), cwd=project)
    wait_until(lambda: run.proc.poll() is not None or "workers ready" in run.log(), 60,
               what="the boot's end")
    log = run.log()
    assert "workers ready" not in log, log
    assert run.wait_exit() == 3, log
    assert ("worker 0: settingsmod:app is a dict {'debug': True}, which is not callable: APP names the app "
            "object (module:ATTRIBUTE), or an app factory to call (module:factory())\n") in log, log
    assert "Traceback" not in log, log


def test_an_async_factory_is_one_line_at_boot(runs, tmp_path):
    project = write(tmp_path / "proj", {"asyncfactory.py": """
        async def create_app():
            async def app(scope, receive, send):
                pass
            return app
    """})
    run = runs(prefork_m("asyncfactory:create_app()"), cwd=project)
    wait_until(lambda: run.proc.poll() is not None or "workers ready" in run.log(), 60, what="the boot's end")
    log = run.log()
    assert "workers ready" not in log, log
    assert run.wait_exit() == 3, log
    assert ("worker 0: asyncfactory:create_app(): create_app is an async function, and a factory is called, "
            "not awaited: make it a plain def that returns the app\n") in log, log
    assert "Traceback" not in log and "never awaited" not in log, log


def test_an_asgi3_class_whose_instances_are_awaited_serves_without_interface(runs, tmp_path):
    # uvicorn serves such a class as ASGI 3: App(scope, receive, send) is awaited
    project = write(tmp_path / "proj", {"classapp.py": """
        class App:
            def __init__(self, scope, receive, send):
                self.scope, self.send = scope, send

            def __await__(self):
                return self.respond().__await__()

            async def respond(self):
                if self.scope["type"] != "http":
                    return
                await self.send({"type": "http.response.start", "status": 200,
                                 "headers": [(b"content-type", b"application/json")]})
                await self.send({"type": "http.response.body", "body": b'{"app": "class"}'})
    """})
    run = runs(prefork_m("classapp:App"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "class"}


@pytest.mark.parametrize("interface", ["auto", "asgi"])
def test_a_class_named_where_its_instance_is_the_app_is_one_line_at_boot(runs, tmp_path, interface):
    project = write(tmp_path / "proj", {"instanceapp.py": """
        class App:
            async def __call__(self, scope, receive, send):
                if scope["type"] != "http":
                    return
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": b'{"app": "instance"}'})
    """})
    run = runs(prefork_m("instanceapp:App", "--interface", interface), cwd=project)
    wait_until(lambda: run.proc.poll() is not None or "workers ready" in run.log(), 60, what="the boot's end")
    log = run.log()
    assert "workers ready" not in log, log  # (with asgi it was served as ASGI 2: App(scope) failed per request)
    assert run.wait_exit() == 3, log
    assert ("worker 0: instanceapp:App is a class App(), which is made with no arguments and whose instances "
            "are called: write APP as 'instanceapp:App()' to have the worker make one and serve it\n") in log, log
    run = runs(prefork_m("instanceapp:App()", "--interface", interface), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "instance"}


def test_a_keyword_only_parameter_is_shown_after_its_star():
    """What the loader says it found shows the signature as written: a factory's
    keyword-only ``debug`` after its ``*`` (it showed ``create_app(name, debug)``, a call
    that would fail)."""
    from prefork.recognise import detect

    def create_app(name, *, debug=False):
        return None

    def handler(a, *rest, b, **extra):
        return None
    assert detect(create_app)[1].endswith("create_app(name, *, debug)")
    assert "handler(a, *rest, b, **extra)" in detect(handler)[1]
