"""A namespace package with a portion in the app's directory and another on the
path (site-packages, PYTHONPATH): a worker imports either portion's modules, so the
master's check that the app's module can be found sees both as well. Real daemon,
real requests."""

import signal

from daemon import ROOT, HERE


def test_app_in_the_path_portion_of_a_namespace_the_app_dir_also_holds(daemons, tmp_path):
    installed = tmp_path / "installed" / "acme"
    own = tmp_path / "app" / "acme"
    installed.mkdir(parents=True)
    own.mkdir(parents=True)
    (installed / "api.py").write_text("def setup(server):\n"
                                      "    server.on('request', lambda req, res: res.end('installed portion'))\n")
    (own / "web.py").write_text("def setup(server):\n"
                                "    server.on('request', lambda req, res: res.end('own portion'))\n")
    path = ":".join([ROOT, HERE, str(tmp_path / "installed")])
    for app, body in (("acme.api:setup", b"installed portion"), ("acme.web:setup", b"own portion")):
        d = daemons("--app-dir", str(tmp_path / "app"), app=app, workers=1, env={"PYTHONPATH": path})
        d.wait_ready()
        reply = d.request()
        assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(body), reply
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
