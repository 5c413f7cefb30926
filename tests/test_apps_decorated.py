"""An app made by a decorator (``functools.wraps``) is read by the signature it is
called with: a WSGI wrapper around a function of no arguments is a WSGI app (it was
refused under ``--interface wsgi`` as a factory needing its call, and taken for one under
auto); werkzeug's ``@Request.application``, a ``(request)`` function wrapped in a
``(*args)`` wrapper, is served with ``--interface wsgi`` (it was refused as an events
setup, with no way around). Real daemons, as gunicorn serves both."""

import pytest

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
