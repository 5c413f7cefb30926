"""A gunicorn or uvicorn user's command lines, config files and environment, run for real
against the daemon: flags are spelled out (an abbreviation never stands for another
setting) and booleans take no value; the variables those servers read (PORT,
FORWARDED_ALLOW_IPS, SCRIPT_NAME) are read; a gunicorn.conf.py left in the working
directory, a setting nothing uses and a relative path with chdir are warned about; an
address, a value or a name written as gunicorn or uvicorn write it is refused with
prefork's; gunicorn's --check-config loads the app; a missing app_dir and an app file
named as a loaded module are configuration errors, not failed boots."""

import os
import re
import signal
import socket
import subprocess
import sys

from daemon import ROOT, Daemon, kill_all, python_env, scratch_dir, wait_until
from harness import read_until_close


def prefork(*args, cwd=None, env=None):
    """A prefork that should stop at its configuration; killed by PID if it does not."""
    proc = subprocess.Popen([sys.executable, "-m", "prefork", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd or scratch_dir("prefork-users-"),
                            env=python_env(**(env or {})), stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its session: a child it forked (an app's load) too
        except ProcessLookupError:
            pass
        kill_all(proc, ())
    return proc.returncode, out, err


def get(port, host="127.0.0.1"):
    sock = socket.create_connection((host, port), timeout=5)
    try:
        sock.sendall(b"GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)
    finally:
        sock.close()


def test_uvicorns_header_flag_is_not_taken_for_headers_timeout():
    # argparse would read --header as an abbreviation of --headers-timeout: a daemon
    # started with a 7-second head timeout instead of a response header
    d = Daemon("--header", "7", app="apps.flask_app:app", workers=1)
    try:
        assert d.wait_exit(15) == 2
        log = d.log()
        assert "--header is uvicorn's: set response headers in the app" in log, log
        assert "headers-timeout" not in log and "Traceback" not in log
    finally:
        d.cleanup()


def test_an_abbreviated_flag_is_refused_with_the_flag_meant():
    code, _, err = prefork("apps.flask_app:app", "--work", "2", "--graceful-timout", "5")
    assert code == 2
    assert "  --work is not an option: did you mean --workers?" in err.splitlines()
    assert "  --graceful-timout is not an option: did you mean --graceful-timeout?" in err.splitlines()


def test_gunicorns_keep_alive_and_pid_spellings_still_work():
    tmp = scratch_dir("prefork-users-")
    pidfile = os.path.join(tmp, "app.pid")
    d = Daemon("--keep-alive", "2", "--pid", pidfile, "--reload-dir", tmp, app="apps.flask_app:app", workers=1)
    try:
        d.wait_ready()
        assert wait_until(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 10) == str(d.pid)
        assert get(d.port).startswith(b"HTTP/1.1 200 ")
    finally:
        d.cleanup()
    code, out, err = prefork("check-config", "apps.flask_app:app", "--keep-alive", "2", "--reload-dir", tmp)
    assert code == 0, err
    assert "keep_alive_timeout = 2.0  # argv:--keep-alive-timeout" in out.splitlines()


def test_the_platforms_port_is_bound_on_every_interface_as_gunicorn_binds_it():
    d = Daemon(app="apps.flask_app:app", workers=1, bind_socket=False, env={"PORT": "0"})
    try:
        d.wait_ready()
        port = int(re.search(r"listening at 0\.0\.0\.0:(\d+) \(0\.0\.0\.0:0\)", d.log()).group(1))
        assert get(port).startswith(b"HTTP/1.1 200 ")
    finally:
        d.cleanup()


def test_a_bind_flag_wins_over_port_and_a_bad_port_is_a_configuration_error():
    code, out, _ = prefork("check-config", "apps.flask_app:app", env={"PORT": "5000"})
    assert code == 0 and 'bind = ["0.0.0.0:5000"]  # env:PORT' in out.splitlines()
    code, out, _ = prefork("check-config", "apps.flask_app:app", "-b", "127.0.0.1:5001", env={"PORT": "5000"})
    assert code == 0 and 'bind = ["127.0.0.1:5001"]  # argv:--bind' in out.splitlines()
    d = Daemon(app="apps.flask_app:app", workers=1, bind_socket=False, env={"PORT": "http"})
    try:
        assert d.wait_exit(15) == 2
        assert d.log().splitlines() == ["env:PORT: expected a port number, got 'http'"]
    finally:
        d.cleanup()


def test_a_gunicorn_conf_py_in_the_working_directory_is_named_as_not_read():
    tmp = scratch_dir("prefork-users-")
    with open(os.path.join(tmp, "gunicorn.conf.py"), "w") as fh:
        fh.write("import multiprocessing\nworkers = multiprocessing.cpu_count() * 2 + 1\n")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    log_path = os.path.join(tmp, "error.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "prefork", "apps.flask_app:app", "-w", "1", "--bind",
                                 f"fd://{sock.fileno()}", "--metrics-bind", "127.0.0.1:0", "--access-log", ""],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                                pass_fds=(sock.fileno(),), env=python_env())
    sock.close()
    read = lambda: open(log_path, encoding="utf-8", errors="replace").read()  # noqa: E731
    try:
        wait_until(lambda: "workers ready" in read(), 15, what=lambda: read())
        assert get(port).startswith(b"HTTP/1.1 200 ")
        assert ("warning: gunicorn.conf.py: gunicorn's config file, not read: prefork reads only the TOML file "
                "named by --config or PREFORK_CONFIG (docs/gunicorn.md)") in read().splitlines()
    finally:
        kill_all(proc, ())


def test_a_gunicorn_conf_py_is_not_named_when_a_config_file_is():
    tmp = scratch_dir("prefork-users-")
    with open(os.path.join(tmp, "gunicorn.conf.py"), "w") as fh:
        fh.write("workers = 3\n")
    with open(os.path.join(tmp, "prefork.toml"), "w") as fh:
        fh.write("workers = 2\n")
    code, _, err = prefork("check-config", "apps.flask_app:app", "-c", "prefork.toml", cwd=tmp)
    assert code == 0 and "gunicorn.conf.py" not in err


def test_an_address_as_gunicorn_or_uvicorn_take_it_is_refused_with_the_form_to_write():
    cases = {
        "0.0.0.0": "0.0.0.0: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N (no port: write 0.0.0.0:8000)",
        "8000": "8000: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N (a port alone: write 127.0.0.1:8000, "
                "or 0.0.0.0:8000 for every interface)",
        "::1:8000": "::1:8000: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N (an IPv6 address is written "
                    "in brackets: [::1]:8000)",
        "tcp://127.0.0.1:8000": "tcp://127.0.0.1:8000: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N "
                                "(write it without tcp://: 127.0.0.1:8000)",
    }
    for address, message in cases.items():
        d = Daemon("--bind", address, app="apps.flask_app:app", workers=1, bind_socket=False)
        try:
            assert d.wait_exit(15) == 2
            assert d.log().splitlines() == [f"argv:--bind: {message}"], address
        finally:
            d.cleanup()


def test_more_of_gunicorns_and_uvicorns_names_get_the_setting_to_use(tmp_path):
    code, _, err = prefork("apps.flask_app:app", "--pythonpath", "src", "--limit-max-requests-jitter", "5",
                           "--no-server-header")
    assert code == 2
    lines = err.splitlines()
    assert "  --pythonpath src is gunicorn's: write --app-dir src here (one directory, put first on the Python path; "\
           "more go in PYTHONPATH)" in lines
    assert "  --limit-max-requests-jitter 5 is uvicorn's: write --max-requests-jitter 5 here" in lines
    assert "  --no-server-header is uvicorn's: prefork sends no Server header" in lines
    config = tmp_path / "gunicorn_like.toml"
    config.write_text('wsgi_app = "apps.flask_app:app"\nreload_extra_files = ["templates/index.html"]\n')
    code, _, err = prefork("check-config", "-c", str(config))
    assert code == 2
    assert err.splitlines() == [
        f"{config}:wsgi_app: unknown setting (wsgi_app is gunicorn's: write app = \"apps.flask_app:app\" here)",
        f"{config}:reload_extra_files: unknown setting (reload_extra_files is gunicorn's: use reload_include here "
        f"(file name patterns))"]


def _project(tmp_path):
    (tmp_path / "broken.py").write_text('print("loading broken")\nraise RuntimeError("DATABASE_URL is not set")\n')
    (tmp_path / "chatty.py").write_text('print("chatty: imported")\n'
                                        'def app(environ, start_response):\n'
                                        '    start_response("200 OK", [])\n'
                                        '    return [b"ok"]\n')
    (tmp_path / "factory.py").write_text("from chatty import app as made\n\ndef create_app():\n    return made\n")
    return tmp_path


def test_gunicorns_check_config_loads_the_app_as_gunicorns_does(tmp_path):
    project = _project(tmp_path)
    code, out, err = prefork("--check-config", "broken:app", cwd=project)
    assert code == 3 and out == ""
    lines = err.splitlines()
    assert lines[:3] == ["loading broken", "argv:--app: broken:app cannot be loaded:", "Traceback (most recent call last):"]
    assert lines[-1] == "RuntimeError: DATABASE_URL is not set"
    assert f'File "{project / "broken.py"}", line 2, in <module>' in err
    assert os.path.join(ROOT, "prefork") not in err and "importlib" not in err  # the app's frames only
    code, out, err = prefork("--print-config", "factory:create_app", cwd=project)
    assert code == 3 and out == ""
    assert err.splitlines()[-1].startswith("argv:--app: factory:create_app is a function create_app(), which can be "
                                           "called with no arguments")
    # what the app prints goes to stderr: stdout holds the settings only
    code, out, err = prefork("--check-config", "factory:create_app()", "-w", "2", cwd=project)
    assert code == 0, err
    assert err == "chatty: imported\n"
    assert out.startswith("# effective settings") and "workers = 2  # argv:--workers" in out.splitlines()


def test_check_config_itself_still_imports_nothing(tmp_path):
    project = _project(tmp_path)
    code, out, err = prefork("check-config", "broken:app", cwd=project)
    assert code == 0 and err == "" and "loading broken" not in out


def request(port, path, headers=""):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode())
        return read_until_close(sock)
    finally:
        sock.close()


def test_forwarded_allow_ips_is_read_from_the_environment_as_gunicorn_and_uvicorn_read_it():
    forwarded = "X-Forwarded-For: 203.0.113.9\r\n"
    # this proxy's peers only: the loopback client is no longer one (it is by default)
    d = Daemon(app="apps.fleet:wsgi", workers=1, env={"FORWARDED_ALLOW_IPS": "10.0.0.0/8"})
    try:
        d.wait_ready()
        assert b"wsgi client=127.0.0.1:" in request(d.port, "/", forwarded)
    finally:
        d.cleanup()
    d = Daemon(app="apps.fleet:wsgi", workers=1, env={"FORWARDED_ALLOW_IPS": "*"})
    try:
        d.wait_ready()
        assert b"client=203.0.113.9:" in request(d.port, "/", forwarded)
    finally:
        d.cleanup()
    code, out, _ = prefork("check-config", "apps.fleet:wsgi", env={"FORWARDED_ALLOW_IPS": "10.0.0.1, 10.0.0.2"})
    assert code == 0
    assert 'forwarded_allow_ips = ["10.0.0.1", "10.0.0.2", "unix"]  # env:FORWARDED_ALLOW_IPS' in out.splitlines()
    code, out, _ = prefork("check-config", "apps.fleet:wsgi", "--forwarded-allow-ips", "10.0.0.3",
                           env={"FORWARDED_ALLOW_IPS": "*"})
    assert code == 0 and 'forwarded_allow_ips = ["10.0.0.3"]  # argv:--forwarded-allow-ips' in out.splitlines()


def test_script_name_in_the_environment_mounts_the_app_as_gunicorn_mounts_it():
    d = Daemon(app="apps.journey_flask:create_app()", workers=1, env={"SCRIPT_NAME": "/shop"})
    try:
        d.wait_ready()
        response = request(d.port, "/shop/where")
        assert response.startswith(b"HTTP/1.1 200 ")
        assert b'"script_name":"/shop"' in response and b'"url":"/shop/where"' in response
    finally:
        d.cleanup()
    d = Daemon(app="apps.journey_flask:create_app()", workers=1, env={"SCRIPT_NAME": "shop"})
    try:
        assert d.wait_exit(15) == 2
        assert d.log().splitlines() == ["env:SCRIPT_NAME: 'shop': a URL path prefix starts with '/' (e.g. \"/app\")"]
    finally:
        d.cleanup()


def test_a_setting_that_nothing_uses_is_warned_about_as_uvicorn_warns_of_reload_dirs(tmp_path):
    d = Daemon("--reload-dir", str(tmp_path), "--max-requests-jitter", "50", "--keyfile", "/nonexistent/key.pem",
               app="apps.flask_app:app", workers=1, env={"PREFORK_PROXY_ALLOW_IPS": "10.0.0.0/8"})
    try:
        d.wait_ready()
        lines = d.log().splitlines()
        assert "warning: argv:--reload-dirs: has no effect without reload (--reload)" in lines
        assert "warning: argv:--max-requests-jitter: has no effect without max_requests" in lines
        assert "warning: argv:--keyfile: has no effect without certfile (TLS is off)" in lines
        assert ("warning: env:PREFORK_PROXY_ALLOW_IPS: has no effect without proxy_protocol or "
                "proxy_protocol_bind") in lines
        assert get(d.port).startswith(b"HTTP/1.1 200 ")
    finally:
        d.cleanup()
    code, _, err = prefork("check-config", "apps.flask_app:app", "--reload", "--reload-dir", str(tmp_path),
                           "--max-requests", "1000", "--max-requests-jitter", "50")
    assert code == 0 and "warning" not in err, err


def test_uvicorns_values_are_refused_with_prefork_s():
    d = Daemon("--log-level", "trace", "--loop", "auto", "--interface", "asgi3", app="apps.flask_app:app", workers=1)
    try:
        assert d.wait_exit(15) == 2
        assert sorted(d.log().splitlines()) == [
            "argv:--interface: expected one of auto, events, wsgi, asgi, got 'asgi3' (uvicorn's asgi3 is asgi here; "
            "ASGI 2 apps are recognised too)",
            "argv:--log-level: expected one of debug, info, warning, error, critical, got 'trace' (uvicorn's trace "
            "is debug here)",
            "argv:--loop: expected one of asyncio, uvloop, got 'auto' (uvicorn's auto picks uvloop when it is "
            "installed: name asyncio or uvloop here)"]
    finally:
        d.cleanup()


def test_an_app_dir_that_does_not_exist_is_a_configuration_error_not_a_failed_boot(tmp_path):
    missing = tmp_path / "src"
    d = Daemon("--app-dir", str(missing), app="apps.flask_app:app", workers=1)
    try:
        assert d.wait_exit(15) == 2
        assert d.log().splitlines() == [f"argv:--app-dir: {missing}: no such directory"]
    finally:
        d.cleanup()
    (tmp_path / "project").mkdir()  # the app is found on the Python path, not where app_dir says
    code, _, err = prefork("check-config", "apps.flask_app:app", "--chdir", str(tmp_path / "project"),
                           "--app-dir", "src")
    assert code == 2
    assert err.splitlines() == [f"argv:--app-dir: {tmp_path / 'project' / 'src'}: no such directory (app_dir is "
                                f"relative to chdir, {tmp_path / 'project'})"]


def test_a_boolean_flag_given_a_value_says_how_a_boolean_is_written():
    # gunicorn 27 writes --proxy-protocol MODE; before APP the mode would be taken for the app
    code, _, err = prefork("--proxy-protocol", "v2", "apps.flask_app:app")
    assert code == 2
    assert err.splitlines()[0] == ("prefork: error: --proxy-protocol v2 is gunicorn's: both versions are read here, "
                                   "write --proxy-protocol (off: --no-proxy-protocol)")
    d = Daemon("--reload=true", "--ws-per-message-deflate", "off", app="apps.flask_app:app", workers=1)
    try:
        assert d.wait_exit(15) == 2
        assert d.log().splitlines() == [
            "prefork: error: --reload takes no value: write --reload or --no-reload",
            "--ws-per-message-deflate takes no value: write --ws-per-message-deflate or --no-ws-per-message-deflate",
            "Run 'prefork --help' for every option."]
    finally:
        d.cleanup()


def test_an_app_file_named_as_a_loaded_module_is_refused_before_any_worker_fails(tmp_path):
    (tmp_path / "socket.py").write_text("def app(environ, start_response):\n    start_response('200 OK', [])\n"
                                        "    return [b'ok']\n")
    d = Daemon("--chdir", str(tmp_path), app="socket:app", workers=1)
    try:
        assert d.wait_exit(15) == 2
        assert d.log().splitlines() == [
            f"argv:--app: {tmp_path / 'socket.py'} cannot be imported as 'socket': that name is the standard "
            f"library's, loaded before the app: rename the file (or package)"]
    finally:
        d.cleanup()
    (tmp_path / "socket.py").rename(tmp_path / "sockapp.py")
    d = Daemon("--chdir", str(tmp_path), app="sockapp:app", workers=1)
    try:
        d.wait_ready()
        assert get(d.port).startswith(b"HTTP/1.1 200 OK")
    finally:
        d.cleanup()


def test_a_relative_path_the_master_opens_with_chdir_set_is_warned_about(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    d = Daemon("--chdir", str(project), "--pidfile", "app.pid", app="apps.flask_app:app", workers=1)
    try:
        d.wait_ready()
        assert (f"warning: argv:--pidfile: app.pid is relative to where prefork started ({d.tmp}), not to chdir "
                f"({project}) as gunicorn's would be: write it as an absolute path") in d.log().splitlines()
        assert os.path.exists(os.path.join(d.tmp, "app.pid")) and not (project / "app.pid").exists()
    finally:
        d.cleanup()
    code, _, err = prefork("check-config", "apps.flask_app:app", "--chdir", str(project), "--pidfile",
                           str(tmp_path / "app.pid"))
    assert code == 0 and "warning" not in err


def test_an_empty_list_entry_is_no_entry():
    # an empty pattern would match no file: a reload that never fires
    d = Daemon("--reload", "--reload-include", "", app="apps.flask_app:app", workers=1)
    try:
        assert d.wait_exit(15) == 2
        assert d.log().splitlines() == ["argv:--reload-include: expected at least one file name pattern"]
    finally:
        d.cleanup()


def test_gunicorns_check_config_bounds_the_load_by_timeout_as_a_boot_is(tmp_path):
    (tmp_path / "stuck.py").write_text('print("connecting", end="")\nimport time\ntime.sleep(60)\n')
    (tmp_path / "partial.py").write_text('print("half a line", end="")\napp = 1\n')
    code, out, err = prefork("--check-config", "stuck:app", "--timeout", "1", cwd=tmp_path)
    assert code == 3 and out == ""
    assert err.endswith("argv:--app: stuck:app did not load within timeout (1 s): a worker's boot is aborted so\n")
    code, out, err = prefork("--check-config", "partial:app", cwd=tmp_path)
    assert code == 3
    assert err.splitlines()[:2] == ["half a line", "argv:--app: partial:app is an int 1, which is not callable: APP "
                                                   "names the app object (module:ATTRIBUTE), or an app factory to call "
                                                   "(module:factory())"]


def test_a_root_path_past_ascii_is_warned_about(tmp_path):
    """Under WSGI a path's bytes are latin-1 (PEP 3333): ``/café`` matches only
    ``/caf%E9``, never the ``/caf%C3%A9`` a browser sends. Said, with what would match."""
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--root-path", "/café"],
                         capture_output=True, text=True, env=python_env(), cwd=tmp_path, timeout=30)
    assert out.returncode == 0, out.stderr
    assert ("warning: argv:--root-path: '/café' holds characters past ASCII: under WSGI it matches only paths "
            "percent-encoded in latin-1, never the UTF-8 a browser sends (use the latin-1 reading of those "
            "bytes, '/cafÃ©', or an ASCII prefix)") in out.stderr.splitlines(), out.stderr
    quiet = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--root-path", "/shop"],
                           capture_output=True, text=True, env=python_env(), cwd=tmp_path, timeout=30)
    assert quiet.returncode == 0 and "warning" not in quiet.stderr, quiet.stderr


def test_a_start_refused_with_an_error_log_file_is_said_on_stderr_too(tmp_path):
    """With ``error_log`` a file (as under systemd), an address in use found at start
    went only into that file: the terminal (or the journal) saw exit status 2 and
    nothing else."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        out = subprocess.run([sys.executable, "-m", "prefork", "--bind", f"127.0.0.1:{port}", "--metrics-bind", "",
                              "--error-log", str(tmp_path / "error.log")],
                             capture_output=True, text=True, env=python_env(), cwd=tmp_path, timeout=30)
    finally:
        busy.close()
    line = f"argv:--bind: 127.0.0.1:{port}: address already in use"
    assert out.returncode == 2 and line in out.stderr.splitlines(), out.stderr
    assert line in (tmp_path / "error.log").read_text().splitlines()
