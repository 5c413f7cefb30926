"""App loading: APP found next to where prefork starts (also from the console script),
--chdir and --app-dir, the default attribute order, interface recognition (events, WSGI,
ASGI 3, ASGI 2) with one-line errors, -w/-b/-c, WEB_CONCURRENCY's place among the
sources of ``workers``. Real daemons serve real Flask, Django and FastAPI projects made
in a temporary directory."""

import asyncio
import functools
import http.client
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import uuid

import pytest

from daemon import ROOT, alive, children, kill_all, wait_until
from harness import read_until_close

from prefork import apps, recognise

HERE = os.path.dirname(os.path.abspath(__file__))

FLASK_APP = """
    import os
    from flask import Flask

    app = Flask(__name__)

    def setup():  # a helper of the project, not an events setup(server)
        return "configured"

    @app.get("/")
    def index():
        return {"app": "flask", "cwd": os.getcwd()}
"""

DJANGO_FILES = {
    "manage.py": "",
    "djsite/__init__.py": "",
    "djsite/settings.py": """
        SECRET_KEY = "test-only-not-secret"
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        ROOT_URLCONF = "djsite.urls"
        INSTALLED_APPS = []
        MIDDLEWARE = []
        DATABASES = {}
        USE_TZ = True
    """,
    "djsite/urls.py": """
        from django.http import JsonResponse
        from django.urls import path

        def index(request):
            return JsonResponse({"app": "django", "method": request.method})

        urlpatterns = [path("", index)]
    """,
    "djsite/wsgi.py": """
        import os
        from django.core.wsgi import get_wsgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")
        application = get_wsgi_application()
    """,
    "djsite/asgi.py": """
        import os
        from django.core.asgi import get_asgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")
        application = get_asgi_application()
    """,
}

FASTAPI_APP = """
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    def index():
        return {"app": "fastapi"}
"""

ASGI_PRESENT = importlib.util.find_spec("prefork.asgi") is not None


def write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def root_only_env(**extra):
    """prefork importable, nothing else added: the project must be found by prefork itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WEB_CONCURRENCY") and
           not k.startswith("PREFORK_")}
    env["PYTHONPATH"] = ROOT
    env.update(extra)
    return env


class Run:
    """One prefork process started with the given command in the given directory, on a
    listen socket bound here on port 0; every process seen is killed by PID at the end."""

    def __init__(self, cmd, cwd, env=None, bind=True, workers="1"):
        self.log_path = os.path.join(cwd, f"prefork-{uuid.uuid4().hex[:8]}.log")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        extra = ["--access-log", "", "--metrics-bind", "", "--graceful-timeout", "5"]
        if workers is not None:
            extra += ["--workers", workers]
        if bind:
            extra += ["--bind", f"fd://{self.sock.fileno()}"]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(list(cmd) + extra, cwd=cwd, env=env or root_only_env(),
                                     stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     pass_fds=(self.sock.fileno(),))
        self.sock.close()
        self.seen = {self.proc.pid}

    def log(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")

    def workers(self):
        pids = children(self.proc.pid)
        self.seen.update(pids)
        return pids

    def wait_ready(self):
        wait_until(lambda: "workers ready" in self.log() or self.proc.poll() is not None, 60,
                   what="workers ready")
        assert self.proc.poll() is None, self.log()

    def get_json(self, path="/"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        assert response.status == 200, (response.status, body, self.log())
        return json.loads(body)

    def wait_exit(self):
        return self.proc.wait(60)

    def cleanup(self):
        self.workers()
        kill_all(self.proc, self.seen)
        self.log_file.close()


def prefork_m(*args):
    return [sys.executable, "-m", "prefork", *args]


def console_script(tmp_path):
    """A console script as pip writes it for ``prefork = prefork.cli:main``: its own
    directory, not the working directory, is first on sys.path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "prefork"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom prefork.cli import main\n"
                      "if __name__ == '__main__':\n    sys.exit(main())\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def flask_project(tmp_path):
    pytest.importorskip("flask")
    return write(tmp_path / "myproj", {"flaskapp.py": FLASK_APP})


# -- recognition (signatures only; nothing is called) ---------------------------------------------
def events_setup(server):
    pass


def wsgi_function(environ, start_response):
    return []


async def asgi_function(scope, receive, send):
    pass


async def async_setup(server):
    pass


async def async_two(a, b):
    pass


class WSGIClass:
    """PEP 3333's application class: called per request, its instance iterated."""

    def __init__(self, environ, start_response):
        pass

    def __iter__(self):
        return iter(())


class ASGI2:
    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        await send({"type": "seen", "path": self.scope["path"], "got": await receive()})


class ASGI3Object:
    async def __call__(self, scope, receive, send):
        pass


class OptionalWSGI:  # a callable instance whose parameters have defaults: read by its signature
    def __call__(self, environ=None, start_response=None):
        return []


def untyped(*args, **kwargs):
    pass


def marked(*args):
    pass


marked.prefork_interface = "events"


@pytest.mark.parametrize("obj, kind", [
    (events_setup, "events"), (wsgi_function, "wsgi"), (WSGIClass, "wsgi"), (asgi_function, "asgi"),
    (ASGI3Object(), "asgi"), (ASGI2, "asgi2"), (marked, "events"), (untyped, None), ("text", None),
    (lambda scope, receive, send: None, "asgi"), (lambda a, b=None: None, None),
    (lambda server, extra=None: None, "events"), (lambda *, server: None, None), (async_setup, "events"),
    (async_two, None), (lambda test_config=None: None, None), (lambda: None, None),
    (lambda server=None: None, "events"), (functools.partial(wsgi_function), "wsgi"),
    (OptionalWSGI(), "wsgi"),
])
def test_detect_reads_the_signature(obj, kind):
    assert recognise.detect(obj)[0] == kind


def test_detect_recognises_framework_objects():
    flask = pytest.importorskip("flask")
    fastapi = pytest.importorskip("fastapi")
    from starlette.applications import Starlette
    assert recognise.detect(flask.Flask("x")) == ("wsgi", "Flask instance called as (environ, start_response)")
    assert recognise.detect(fastapi.FastAPI()) == ("asgi", "FastAPI instance called as (scope, receive, send)")
    assert recognise.detect(Starlette())[0] == "asgi"


def test_asgi2_class_is_served_as_asgi3():
    kind, app = recognise.resolve("m:ASGI2", ASGI2, "auto")
    assert kind == "asgi" and isinstance(app, recognise.ASGI2App)
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"x"}

    async def send(message):
        sent.append(message)
    asyncio.run(app({"type": "http", "path": "/p"}, receive, send))
    assert sent == [{"type": "seen", "path": "/p", "got": {"type": "http.request", "body": b"x"}}]
    assert recognise.resolve("m:ASGI2", ASGI2, "asgi")[0] == "asgi"

    class SyncCall:  # said outright to be ASGI: a class taking the scope is ASGI 2
        def __init__(self, scope):
            pass

        def __call__(self, receive, send):
            return asyncio.sleep(0)
    kind, app = recognise.resolve("m:SyncCall", SyncCall, "asgi")
    assert kind == "asgi" and isinstance(app, recognise.ASGI2App)
    assert recognise.resolve("m:SyncCall", SyncCall, "auto") == ("events", SyncCall)


@pytest.mark.parametrize("obj, interface, fix", [
    (wsgi_function, "events", "a WSGI application, not an events setup(server): pass --interface wsgi"),
    (events_setup, "wsgi", "an events setup(server), not a WSGI application: pass --interface events"),
    (asgi_function, "wsgi", "an ASGI application, not a WSGI application: pass --interface asgi"),
    (ASGI2, "events", "class ASGI2(scope) with an async __call__, an ASGI application, not an events"),
    (wsgi_function, "asgi", "a WSGI application, not an ASGI application: pass --interface wsgi"),
])
def test_wrong_interface_names_the_fix(obj, interface, fix):
    with pytest.raises(apps.AppError) as info:
        recognise.resolve("m:x", obj, interface)
    message = str(info.value)
    assert "\n" not in message and message.startswith("m:x is ") and fix in message, message


def test_unrecognised_object_names_every_interface():
    with pytest.raises(apps.AppError) as info:
        recognise.resolve("m:untyped", untyped, "auto")
    assert str(info.value) == (
        "m:untyped is a function untyped(*args, **kwargs), which fits no interface (or more than one): pass "
        "--interface events for setup(server), wsgi for (environ, start_response) or asgi for async "
        "(scope, receive, send)")
    assert recognise.resolve("m:untyped", untyped, "wsgi") == ("wsgi", untyped)  # said explicitly: trusted


def create_app(test_config=None):
    return wsgi_function


@pytest.mark.parametrize("factory", [create_app, lambda: wsgi_function])
def test_a_function_called_with_no_arguments_is_taken_for_a_factory(factory):
    with pytest.raises(apps.AppError) as info:
        recognise.resolve("m:create_app", factory, "auto")
    message = str(info.value)
    assert "\n" not in message and message.startswith("m:create_app is a function ") and \
        message.endswith("which can be called with no arguments, as an app factory can: write APP as "
                         "'m:create_app()' to have the worker call it and serve what it returns (an events "
                         "setup takes the server: make it a required parameter, or pass --interface events)"), message


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """apps.load changes sys.path and may change directory: both restored afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    names = []

    def module(text):
        name = f"m_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        names.append(name)
        return name
    yield module
    for name in names:
        sys.modules.pop(name, None)


def test_default_attribute_order(isolated):
    both = isolated("""
        def setup(server):
            pass

        def application(environ, start_response):
            return []

        def app(environ, start_response):
            return []
    """)
    assert apps.load(both)[0] == "events"
    kind, found = apps.load(both, "wsgi")
    assert kind == "wsgi" and found.__name__ == "application"
    helper = isolated("""
        def setup():
            pass

        async def app(scope, receive, send):
            pass
    """)
    kind, found = apps.load(helper)
    assert kind == "asgi" and found.__name__ == "app"
    # a one-argument helper not named for the server (Flask's setup(app)) is passed over
    # for an app beside it; alone, or named setup(server), it is the events setup
    flask_like = isolated("""
        def setup(app):
            app.config["X"] = 1

        def app(environ, start_response):
            return []
    """)
    kind, found = apps.load(flask_like)
    assert kind == "wsgi" and found.__name__ == "app"
    alone = isolated("""
        def setup(srv):
            pass
    """)
    kind, found = apps.load(alone)
    assert kind == "events" and found.__name__ == "setup"
    # beside a plain two-argument function (an events handler takes (req, res)), the
    # setup stays the app
    handler = isolated("""
        def app(req, res):
            res.end("ok")

        def setup(srv):
            srv.on("request", app)
    """)
    kind, found = apps.load(handler)
    assert kind == "events" and found.__name__ == "setup"
    none = isolated("handler = None\n")
    with pytest.raises(apps.AppError, match=rf"module '{none}' defines none of setup, application, app: "
                                            rf"name the app as {none}:ATTRIBUTE"):
        apps.load(none)
    with pytest.raises(apps.AppError, match=rf"module '{none}' has no attribute 'main'"):
        apps.load(f"{none}:main")


# -- real projects through the daemon --------------------------------------------------------------
def test_flask_app_serves_without_interface(runs, flask_project):
    run = runs(prefork_m("flaskapp:app"), cwd=flask_project)
    run.wait_ready()
    assert run.get_json() == {"app": "flask", "cwd": str(flask_project)}


def test_console_script_finds_the_app_in_the_working_directory(runs, flask_project, tmp_path):
    script = console_script(tmp_path)
    # the module name alone: the project's zero-argument setup() is passed over for app
    run = runs([script, "flaskapp"], cwd=flask_project)
    run.wait_ready()
    assert run.get_json()["app"] == "flask"
    check = subprocess.run([script, "check-config", "flaskapp:app"], cwd=flask_project, env=root_only_env(),
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert 'app = "flaskapp:app"  # argv:--app' in check.stdout
    assert 'interface = "auto"  # default' in check.stdout


def test_django_project_serves_by_its_wsgi_module(runs, tmp_path):
    pytest.importorskip("django")
    project = write(tmp_path / "site", DJANGO_FILES)
    run = runs(prefork_m("djsite.wsgi"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "django", "method": "GET"}


def test_asgi_projects_are_recognised(tmp_path):
    pytest.importorskip("django")
    pytest.importorskip("fastapi")
    project = write(tmp_path / "proj", dict(DJANGO_FILES, **{"main.py": FASTAPI_APP}))
    code = ("import sys; from prefork import apps\n"
            "for name in sys.argv[1:]:\n"
            "    kind, app = apps.load(name)\n"
            "    print(name, kind, type(app).__name__)\n")
    out = subprocess.run([sys.executable, "-P", "-c", code, "main:app", "main", "djsite.asgi"], cwd=project,
                         env=root_only_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["main:app asgi FastAPI", "main asgi FastAPI", "djsite.asgi asgi ASGIHandler"]


@pytest.mark.skipif(not ASGI_PRESENT, reason="prefork.asgi not present")
def test_fastapi_app_serves_without_interface(runs, tmp_path):
    pytest.importorskip("fastapi")
    project = write(tmp_path / "api", {"main.py": FASTAPI_APP})
    run = runs(prefork_m("main:app"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "fastapi"}


@pytest.mark.skipif(not ASGI_PRESENT, reason="prefork.asgi not present")
def test_django_asgi_handler_serves_without_interface(runs, tmp_path):
    pytest.importorskip("django")
    project = write(tmp_path / "site", DJANGO_FILES)
    run = runs(prefork_m("djsite.asgi"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "django", "method": "GET"}


def boot_failure(run):
    assert run.wait_exit() == 3
    return run.log()


def test_async_setup_is_awaited_before_the_worker_is_ready(runs, tmp_path):
    project = write(tmp_path / "evproj", {"service.py": """
        import asyncio
        import json

        async def setup(server):
            await asyncio.sleep(0.01)  # e.g. open a connection pool
            greeting = await asyncio.get_running_loop().run_in_executor(None, str.upper, "ready")

            def on_request(req, res):
                res.set_header("Content-Type", "application/json")
                res.end(json.dumps({"app": "events", "greeting": greeting}))
            server.on("request", on_request)
    """})
    run = runs(prefork_m("service"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "events", "greeting": "READY"}


def test_wrong_interface_is_one_line_at_boot(runs, flask_project):
    log = boot_failure(runs(prefork_m("flaskapp:app", "--interface", "events"), cwd=flask_project))
    line = ("flaskapp:app is a Flask instance called as (environ, start_response), a WSGI application, "
            "not an events setup(server): pass --interface wsgi (or leave interface at auto)")
    assert f"worker 0: {line}\n" in log, log
    assert "Traceback" not in log and "TypeError" not in log, log


def test_unrecognised_object_is_one_line_at_boot(runs, tmp_path):
    project = write(tmp_path / "odd", {"odd.py": "def handler(*args):\n    pass\n"})
    log = boot_failure(runs(prefork_m("odd:handler"), cwd=project))
    assert re.search(r"worker 0: odd:handler is a function handler\(\*args\), which fits no interface "
                     r"\(or more than one\): pass --interface events for setup\(server\), wsgi for "
                     r"\(environ, start_response\) or asgi for async \(scope, receive, send\)\n", log), log
    assert "Traceback" not in log, log


FLASK_FACTORY = """
    from flask import Flask

    def create_app(test_config=None):
        app = Flask(__name__)

        @app.route("/")
        def index():
            return {"app": "factory", "config": test_config}
        return app
"""


def test_a_flask_factory_named_without_a_call_is_one_line_at_boot(runs, tmp_path):
    pytest.importorskip("flask")
    project = write(tmp_path / "flaskr", {"flaskr.py": FLASK_FACTORY})
    log = boot_failure(runs(prefork_m("flaskr:create_app"), cwd=project))
    assert "worker 0: flaskr:create_app is a function create_app(test_config), which can be called with no " \
           "arguments, as an app factory can: write APP as 'flaskr:create_app()'" in log, log
    assert "Traceback" not in log, log
    # taken for an events setup when said so, its return value shows what it is
    log = boot_failure(runs(prefork_m("flaskr:create_app", "--interface", "events"), cwd=project))
    assert "worker 0: flaskr:create_app was called as an events setup(server) and returned a Flask instance, " \
           "an app: if it is an app factory, write APP as 'flaskr:create_app()'" in log, log
    run = runs(prefork_m("flaskr:create_app()"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "factory", "config": None}


def test_chdir_and_app_dir(runs, flask_project, tmp_path):
    run = runs(prefork_m("--chdir", "myproj", "flaskapp:app"), cwd=tmp_path)
    run.wait_ready()
    assert run.get_json() == {"app": "flask", "cwd": str(flask_project)}
    src = write(tmp_path / "layout", {"src/srcapp.py": FLASK_APP})
    run = runs(prefork_m("--chdir", str(src), "--app-dir", "src", "srcapp"), cwd=tmp_path)
    run.wait_ready()
    assert run.get_json() == {"app": "flask", "cwd": str(src)}
    problems = subprocess.run(prefork_m("check-config", "--chdir", "nowhere", "srcapp"), cwd=tmp_path,
                              env=root_only_env(), capture_output=True, text=True, timeout=60)
    assert problems.returncode == 2
    assert problems.stderr == "argv:--chdir: nowhere: no such directory\n"  # the app is not looked for
    problems = subprocess.run(prefork_m("check-config", "--app-dir", "layout/other", "srcapp"), cwd=tmp_path,
                              env=root_only_env(), capture_output=True, text=True, timeout=60)
    assert problems.returncode == 2 and problems.stderr == (
        f"argv:--app-dir: {tmp_path / 'layout' / 'other'}: no such directory\n"
        "argv:--app: no module named 'srcapp'\n")


def test_the_master_never_imports_an_auto_detected_app(flask_project, tmp_path):
    out = tmp_path / "modules.txt"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "apps", "master_modules.py"), "flaskapp", "--workers", "1",
         "--bind", f"fd://{sock.fileno()}", "--metrics-bind", "", "--access-log", ""],
        cwd=flask_project, pass_fds=(sock.fileno(),), env=root_only_env(MODULES_OUT=str(out)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock.close()
    try:
        wait_until(out.exists, 60, what="the master's module list")
        modules = set(out.read_text().split())
    finally:
        workers = children(proc.pid)
        proc.kill()
        proc.wait(10)
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert "prefork.apps" in modules  # it located the module
    assert not [m for m in modules if m.startswith(("flaskapp", "flask", "werkzeug", "prefork.wsgi"))], \
        sorted(modules)


# -- flags and WEB_CONCURRENCY ------------------------------------------------------------------------
def test_short_flags(runs, flask_project, tmp_path):
    config = tmp_path / "p.toml"
    config.write_text('app = "flaskapp:app"\nworkers = 5\n')
    run = runs(prefork_m("-c", str(config), "-w", "2", "-b", "127.0.0.1:0", "-b", "unix:" + str(tmp_path / "s")),
               cwd=flask_project, bind=False, workers=None)
    run.wait_ready()
    assert len(wait_until(lambda: (lambda w: w if len(w) == 2 else None)(run.workers()), 30,
                          what="2 workers")) == 2
    client = socket.socket(socket.AF_UNIX)
    try:
        client.settimeout(20)
        client.connect(str(tmp_path / "s"))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = read_until_close(client)
    finally:
        client.close()
    assert response.startswith(b"HTTP/1.1 200 OK") and b'"app":"flask"' in response, response


def check_workers(env, *args, cwd=None):
    out = subprocess.run(prefork_m("check-config", *args), env=root_only_env(**env), capture_output=True,
                         text=True, timeout=60, cwd=cwd)
    if out.returncode != 0:
        return out.returncode, out.stderr.strip()
    return 0, re.search(r"^workers = .*$", out.stdout, re.M).group(0)


def test_web_concurrency_precedence(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text("workers = 4\n")
    assert check_workers({"WEB_CONCURRENCY": "3"}) == (0, "workers = 3  # env:WEB_CONCURRENCY")
    assert check_workers({"WEB_CONCURRENCY": "3"}, "-c", str(config)) == (0, f"workers = 4  # {config}:workers")
    assert check_workers({"WEB_CONCURRENCY": "3", "PREFORK_WORKERS": "5"}, "-c", str(config)) == \
        (0, "workers = 5  # env:PREFORK_WORKERS")
    assert check_workers({"WEB_CONCURRENCY": "3", "PREFORK_WORKERS": "5"}, "-c", str(config), "-w", "6") == \
        (0, "workers = 6  # argv:--workers")
    assert check_workers({"WEB_CONCURRENCY": "lots"}) == (2, "env:WEB_CONCURRENCY: expected an integer, got 'lots'")
    assert check_workers({"WEB_CONCURRENCY": "0"}) == (2, "env:WEB_CONCURRENCY: must be at least 1, got 0")
    assert check_workers({})[1].endswith("# default")


def test_web_concurrency_sets_the_worker_count(runs, flask_project):
    run = runs(prefork_m("flaskapp:app"), cwd=flask_project, env=root_only_env(WEB_CONCURRENCY="3"), workers=None)
    run.wait_ready()
    assert "workers ready: 3" in run.log()
    assert len(wait_until(lambda: (lambda w: w if len(w) == 3 else None)(run.workers()), 30, what="3 workers")) == 3


def test_an_app_that_fails_at_import_logs_its_own_frames_only(runs, tmp_path):
    project = write(tmp_path / "brokenproj", {"broken.py": """
        def connect():
            raise RuntimeError("no database at db.internal")

        connect()
        app = None
    """})
    log = boot_failure(runs(prefork_m("broken:app"), cwd=project))
    assert "Traceback (most recent call last):" in log and "RuntimeError: no database at db.internal" in log, log
    assert 'broken.py", line 5, in <module>' in log and 'broken.py", line 3, in connect' in log, log
    # the worker's and importlib's frames say nothing of the app: they are left out
    assert "prefork/worker.py" not in log and "importlib" not in log and "prefork/apps.py" not in log, log


def test_a_setting_the_apps_interface_does_not_use_is_warned_about(runs, tmp_path, flask_project):
    project = write(tmp_path / "evwarn", {"svc.py": """
        def setup(server):
            server.on("request", lambda req, res: res.end('{"ok": 1}'))
    """})
    run = runs(prefork_m("svc:setup", "--threads", "4", "--lifespan", "on", "--root-path", "/api"), cwd=project)
    run.wait_ready()
    log = run.log()
    for flag in ("--threads", "--lifespan", "--root-path"):
        assert f"argv:{flag}: has no effect on an events setup(server)" in log, log
    assert run.get_json() == {"ok": 1}  # served all the same

    wsgi = runs(prefork_m("flaskapp:app", "--lifespan", "off", "--threads", "2"), cwd=flask_project)
    wsgi.wait_ready()
    assert "argv:--lifespan: has no effect on a WSGI app" in wsgi.log()
    assert "--threads: has no effect" not in wsgi.log()  # a WSGI app's thread pool

    plain = runs(prefork_m("flaskapp:app"), cwd=flask_project)
    plain.wait_ready()
    assert "has no effect" not in plain.log()
