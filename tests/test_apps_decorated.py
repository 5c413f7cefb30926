"""An app made by a decorator (``functools.wraps``) is read by the signature it is
called with: a WSGI wrapper around a function of no arguments is a WSGI app (it was
refused under ``--interface wsgi`` as a factory needing its call, and taken for one under
auto); werkzeug's ``@Request.application``, a ``(request)`` function wrapped in a
``(*args)`` wrapper, is served with ``--interface wsgi`` (it was refused as an events
setup, with no way around). Real daemons, as gunicorn serves both."""

import pytest

from prefork import recognise
from test_app_loading import prefork_m, write

DECORATED = """
    import functools
    import json


    def page(f):
        @functools.wraps(f)
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"page": f()}).encode()]
        return app


    @page
    def index():
        return "index"


    def application(f):  # as werkzeug's Request.application: the wrapper takes *args
        @functools.wraps(f)
        def wrapper(*args):
            environ, start_response = args[-2:]
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"request": f(environ)["PATH_INFO"]}).encode()]
        return wrapper


    @application
    def wz(request):
        return request


    def sampled(f):  # a tracing decorator: (*args) and a keyword-only option of its own
        @functools.wraps(f)
        def wrapper(*args, sample_rate=1.0):
            return f(*args)
        return wrapper


    @sampled
    def traced(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"traced": true}']


    def traced_async(f):
        @functools.wraps(f)
        async def wrapper(*args, **kwargs):
            return await f(*args, **kwargs)
        return wrapper


    @traced_async
    async def asgi_app(scope, receive, send):
        pass
"""


@pytest.mark.parametrize("interface", ["wsgi", "auto"])
def test_a_wraps_decorated_wsgi_app_is_served(runs, tmp_path, interface):
    project = write(tmp_path / "site", {"decorated.py": DECORATED})
    run = runs(prefork_m("decorated:index", "--interface", interface), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"page": "index"}


def test_a_star_args_wrapper_said_to_be_wsgi_is_served(runs, tmp_path):
    project = write(tmp_path / "site", {"decorated.py": DECORATED})
    run = runs(prefork_m("decorated:wz", "--interface", "wsgi"), cwd=project)
    run.wait_ready()
    assert run.get_json("/x") == {"request": "/x"}


def test_a_wrapper_with_star_args_and_a_keyword_only_option_is_read_by_what_it_wraps(runs, tmp_path):
    project = write(tmp_path / "site", {"decorated.py": DECORATED})
    run = runs(prefork_m("decorated:traced"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"traced": True}


def test_a_wrapped_asgi_app_said_to_be_wsgi_is_still_refused(tmp_path):
    import sys
    sys.path.insert(0, str(write(tmp_path / "site", {"decorated.py": DECORATED})))
    try:
        import decorated
        with pytest.raises(recognise.AppError, match="an ASGI application, not a WSGI application"):
            recognise.resolve("decorated:asgi_app", decorated.asgi_app, "wsgi")
    finally:
        sys.path.remove(str(tmp_path / "site"))
        sys.modules.pop("decorated", None)
