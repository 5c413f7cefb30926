"""APP naming a request listener, ``def on_request(req, res)`` as the README hands it to
``create_server``, where the daemon wants the app (a ``setup(server)`` registering it):
refused at boot in one line saying so, where it was taken for a WSGI app of two
parameters and every request answered 500 (``'function' object has no attribute
'end'``). ``--interface wsgi`` still serves a function so named as WSGI."""

import pytest

from test_app_loading import boot_failure, prefork_m, write

from prefork import apps, recognise

LISTENERS = """
    def on_request(req, res):
        res.end("hello\\n")

    def setup(server):
        server.on("request", on_request)
"""


def test_a_request_listener_named_as_the_app_is_refused_at_boot_naming_the_setup(runs, tmp_path):
    project = write(tmp_path / "proj", {"service.py": LISTENERS})
    log = boot_failure(runs(prefork_m("service:on_request"), cwd=project))
    assert "worker 0: service:on_request is a function on_request(req, res), a request listener as " \
           "create_server takes, called with each request: APP names the app, here a setup(server) that " \
           "registers it (def setup(server): server.on(\"request\", on_request)); pass --interface wsgi if it " \
           "is a WSGI app\n" in log, log
    assert "Traceback" not in log, log


def handler(request, response):
    pass


async def async_handler(req, resp):
    pass


def wsgi_app(request, start_response):
    pass


@pytest.mark.parametrize("obj", [handler, async_handler])
def test_request_listener_names_are_not_taken_for_wsgi(obj):
    with pytest.raises(apps.AppError) as info:
        recognise.resolve("m:x", obj, "auto")
    assert "a request listener as create_server takes" in str(info.value), info.value


def test_a_listener_said_to_be_wsgi_and_a_wsgi_app_named_otherwise_are_served():
    assert recognise.resolve("m:x", handler, "wsgi") == ("wsgi", handler)
    assert recognise.resolve("m:x", wsgi_app, "auto") == ("wsgi", wsgi_app)
