"""Layer boundaries, checked on the source: no object reaches into another's private
attributes, and the master never imports the worker-side stacks."""

import ast
import json
import os
import signal
import socket
import subprocess
import sys

from daemon import ROOT, Daemon, children as children_of, python_env, wait_until

PACKAGE = os.path.join(ROOT, "prefork")

# (module, attribute): why this access across objects is the right shape
ALLOWED = {
    ("prefork/master/workers.py", "_exit"): "os._exit is the standard library's public way to end a forked child",
    ("prefork/loadcheck.py", "_exit"): "the same, for the child --check-config forks to load the app in",
    ("prefork/process.py", "_run_exitfuncs"): "atexit._run_exitfuncs runs the atexit hooks, as a normal exit "
                                              "does, in a worker that must end by os._exit",
    ("prefork/server/accepting.py", "_accept"): "socket._accept is accept(2) itself, what socket.accept "
                                                "wraps; the wrapper reads two enums per connection",
    ("prefork/wsgi/threads.py", "_current_frames"): "sys._current_frames is the standard library's "
                                                    "documented way to read another thread's stack",
}
# the worker loop's own turn (runtime.py, Python 3.11 and 3.12 only) reads and sets asyncio's
# handles as the asyncio turn it stands for does, and checks that no subclass changed a step
for _attr in ("_cancelled", "_scheduled", "_when", "_run", "_process_events", "_context", "_callback", "_args",
              "_source_traceback", "_loop"):
    ALLOWED[("prefork/runtime.py", _attr)] = "asyncio's loop internals, in the turn that mirrors asyncio's"


def private_accesses():
    """(path, line, expression) for every ``x._name`` whose ``x`` is not self or cls."""
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            tree = ast.parse(open(path).read(), path)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Attribute):
                    continue
                attr = node.attr
                if not attr.startswith("_") or (attr.startswith("__") and attr.endswith("__")):
                    continue
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                    continue  # the object's own inherited method
                rel = os.path.relpath(path, ROOT)
                if (rel, attr) in ALLOWED:
                    continue
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_object_reaches_into_another_objects_private_attributes():
    # In a fresh interpreter: CPython 3.11 before 3.11.8 can raise a spurious SystemError
    # ("AST constructor recursion depth mismatch", python/cpython#106905) from ast.parse
    # in a process whose recursion depth bookkeeping earlier tests have disturbed.
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import test_boundaries; "
            "print(json.dumps(test_boundaries.private_accesses()))")
    out = subprocess.run([sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__))],
                         capture_output=True, text=True, env=python_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_importing_prefork_loads_nothing_else():
    code = "import sys, prefork; print(sorted(m for m in sys.modules if m.startswith('prefork')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=python_env(), timeout=30)
    assert out.stdout.strip() == "['prefork']", out.stderr


def test_the_running_master_never_imports_the_client_or_an_app(tmp_path):
    out = tmp_path / "modules.txt"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "apps", "master_modules.py"), "apps.wsgi_apps:hello",
         "--interface", "wsgi", "--workers", "1", "--bind", f"fd://{sock.fileno()}", "--metrics-bind",
         "127.0.0.1:0", "--access-log", ""],
        pass_fds=(sock.fileno(),), env=python_env(MODULES_OUT=str(out)), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    sock.close()
    try:
        wait_until(out.exists, 15, what="the master's module list")
        modules = set(out.read_text().split())
    finally:
        workers = children_of(proc.pid)
        proc.kill()
        proc.wait(10)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert "prefork.master.master" in modules and "prefork.server" in modules  # its own endpoint
    assert not [m for m in modules if m.startswith(("prefork.client", "prefork.wsgi"))], sorted(modules)
    assert not [m for m in modules if m.startswith(("apps", "flask"))], sorted(modules)


HEAVY = ("prometheus_client", "http.server", "wsgiref", "email", "tomllib", "difflib", "html", "random")


def test_a_worker_on_the_defaults_holds_neither_prometheus_client_nor_its_http_stack(tmp_path):
    """A worker's RSS counts the pages it shares with the master, so what the master
    imported before the fork weighs in every worker: on the defaults (access log and
    metrics on, no config file), a worker, forked after the master served /metrics,
    holds neither prometheus_client's package (its HTTP server stack is ~5 MB) nor
    the modules only the master's error paths and the status page use."""
    d = Daemon("--access-log", str(tmp_path / "access.log"), app="apps.modules_app:setup", workers=1)
    try:
        d.wait_ready()
        d.wait_workers(1)
        assert d.scrape()[("prefork_workers", ())] == 1.0  # the master has rendered /metrics
        first = set(d.workers())
        os.kill(d.proc.pid, signal.SIGHUP)  # a new generation, forked after the scrape
        wait_until(lambda: set(d.workers()) and not set(d.workers()) & first, 15, what="the new generation alone")
        d.request("/")
        modules = set(d.request("/modules").partition(b"\r\n\r\n")[2].decode().split("\n"))
    finally:
        d.cleanup()
    assert "prefork.worker" in modules and "asyncio" in modules
    assert not [m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY], sorted(modules)
