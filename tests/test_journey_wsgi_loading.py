"""Loading a gunicorn user's app as they wrote it for gunicorn: ``module:create_app()``
factories with literal arguments, and an app that fails to import (its traceback and the
exit status, next to gunicorn's)."""

import subprocess
import sys
import textwrap
import uuid

import pytest

from daemon import python_env
from journey_peers import gunicorns  # noqa: F401  (a fixture)

from prefork import apps


@pytest.mark.parametrize("attribute,parsed", [
    ("app", ("app", None, None)),
    ("site.wsgi_app", ("site.wsgi_app", None, None)),
    ("create_app()", ("create_app", [], {})),
    ("create_app('prod', debug=True, n=3)", ("create_app", ["prod"], {"debug": True, "n": 3})),
    ("factories.make( [1, 2], opts={'a': None} )", ("factories.make", [[1, 2]], {"opts": {"a": None}})),
])
def test_an_attribute_is_a_name_or_a_factory_call_with_literals(attribute, parsed):
    assert apps.parse_attribute(attribute) == parsed
    assert apps.split(f"m:{attribute}") == ("m", attribute)


@pytest.mark.parametrize("app,message", [
    ("m:create_app(x)", "the factory's arguments in 'm:create_app(x)' must be literals"),
    ("m:create_app(**opts)", "the factory's arguments in 'm:create_app(**opts)' must be literals"),
    ("m:create({[]: 1})", "the factory's arguments in 'm:create({[]: 1})' must be literals"),
    ("m:create({1, []})", "the factory's arguments in 'm:create({1, []})' must be literals"),
    ("m:create(" + "(" * 5000 + ")" * 5000 + ")", "expected module or module:attribute"),
    ("m:a\x00b", "expected module or module:attribute"),
    ("m:make()()", "expected module or module:attribute, got 'm:make()()' (or module:factory(ARGS)"),
    ("m:a b", "expected module or module:attribute, got 'm:a b'"),
    ("m:", "expected module or module:attribute, got 'm:'"),
    ("m:1", "expected module or module:attribute, got 'm:1'"),
])
def test_a_malformed_attribute_is_a_one_line_error(app, message):
    with pytest.raises(ValueError) as info:
        apps.split(app)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


@pytest.fixture
def module(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    names = []

    def make(text):
        name = f"m_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        names.append(name)
        return name
    yield make
    for name in names:
        sys.modules.pop(name, None)


FACTORY = """
    calls = []

    def create_app(name="default", debug=False):
        calls.append((name, debug))

        def app(environ, start_response):
            start_response("200 OK", [])
            return [name.encode()]
        return app

    def forgets_to_return():
        pass

    not_callable = 42
"""


def test_the_worker_calls_the_factory_and_serves_what_it_returns(module):
    name = module(FACTORY)
    kind, app = apps.load(f"{name}:create_app()")
    assert kind == "wsgi" and app({}, lambda *a: None) == [b"default"]
    kind, app = apps.load(f"{name}:create_app('prod', debug=True)", "wsgi")
    assert app({}, lambda *a: None) == [b"prod"]
    assert sys.modules[name].calls == [("default", False), ("prod", True)]


@pytest.mark.parametrize("call,message", [
    ("create_app(1, 2, 3)", "{n}:create_app(1, 2, 3): create_app(name, debug) cannot be called so: too many "
                            "positional arguments"),
    ("create_app(colour='red')", "{n}:create_app(colour='red'): create_app(name, debug) cannot be called so: "
                                 "got an unexpected keyword argument 'colour'"),
    ("forgets_to_return()", "{n}:forgets_to_return(): the factory returned None, not an app (a missing return?)"),
    ("not_callable()", "{n}:not_callable(): not_callable is an int instance, which cannot be called"),
    ("create_ap()", "module '{n}' has no attribute 'create_ap' (did you mean 'create_app'?)"),
])
def test_a_factory_that_cannot_make_the_app_is_a_one_line_app_error(module, call, message):
    name = module(FACTORY)
    with pytest.raises(apps.AppError) as info:
        apps.load(f"{name}:{call}")
    assert str(info.value) == message.format(n=name)


def _get(port, path):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("spec", ["apps.journey_flask:create_app()", "apps.journey_flask:create_app('named')"])
def test_a_flask_factory_serves_as_under_gunicorn(daemons, gunicorns, spec):  # noqa: F811
    pytest.importorskip("flask")
    ours = daemons(app=spec, workers=1)
    theirs = gunicorns(spec)
    ours.wait_ready()
    theirs.wait_ready()
    status, body = _get(ours.port, "/where")
    assert status == 200 and b'"url":"/where"' in body
    same = body.replace(str(ours.port).encode(), b"PORT")
    assert (status, same) == (lambda s, b: (s, b.replace(str(theirs.port).encode(), b"PORT")))(
        *_get(theirs.port, "/where"))


def test_an_app_that_fails_to_import_stops_the_daemon_with_its_traceback(tmp_path, gunicorns):  # noqa: F811
    (tmp_path / "needs_missing.py").write_text("import a_module_that_is_not_installed\napp = None\n")
    ours = subprocess.run([sys.executable, "-m", "prefork", "needs_missing:app", "--bind", "127.0.0.1:0",
                           "--metrics-bind", "", "--workers", "1"], cwd=tmp_path, env=python_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    theirs = subprocess.run([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--no-control-socket",
                             "needs_missing:app"], cwd=tmp_path, env=python_env(), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert theirs.returncode == 3
    assert ours.returncode == 3, ours.stderr
    assert "No module named 'a_module_that_is_not_installed'" in ours.stderr
    assert 'File "' in ours.stderr and "needs_missing.py\", line 1" in ours.stderr


@pytest.mark.parametrize("app,line", [
    ("mysite.py:app", "argv:--app: cannot import 'mysite.py': 'mysite' is not a package (a file name: did you mean "
                    "mysite:app?)"),
    ("web/mysite.py:app", "argv:--app: expected module or module:attribute, got 'web/mysite.py:app': a module is "
                        "named, not a path (--app-dir web mysite:app)"),
])
def test_a_file_name_or_a_path_as_app_names_the_fix(tmp_path, app, line):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "mysite.py").write_text("app = None\n")
    (tmp_path / "mysite.py").write_text("app = None\n")
    proc = subprocess.run([sys.executable, "-m", "prefork", "check-config", app], cwd=tmp_path, env=python_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [line]
