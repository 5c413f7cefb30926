"""An app in a namespace package (a directory without ``__init__.py``), named with its
dotted path as Python 3 imports it: located by the master without importing it, then
served."""

import pytest

from test_app_loading import prefork_m, write


WSGI = """
    import json

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"module": __name__}).encode()]
"""


@pytest.mark.parametrize("layout", [
    {"nsp/sub/mod.py": WSGI},  # both levels namespace packages
    {"nsp/sub/__init__.py": "", "nsp/sub/mod.py": WSGI},  # a regular package in a namespace one
    {"nsp/__init__.py": "", "nsp/sub/mod.py": WSGI},  # a namespace package in a regular one
])
def test_a_module_in_a_namespace_package_serves(runs, tmp_path, layout):
    project = write(tmp_path / "proj", layout)
    run = runs(prefork_m("nsp.sub.mod:app"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"module": "nsp.sub.mod"}
    assert "Traceback" not in run.log(), run.log()


def test_a_missing_module_in_a_namespace_package_is_one_line(runs, tmp_path):
    project = write(tmp_path / "proj", {"nsp/sub/mod.py": WSGI})
    run = runs(prefork_m("nsp.sub.other:app"), cwd=project)
    assert run.wait_exit() == 2, run.log()
    assert run.log() == "argv:--app: no module named 'nsp.sub.other'\n", run.log()
