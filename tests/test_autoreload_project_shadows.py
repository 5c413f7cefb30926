"""The reload watcher runs in the project's directory without the project's modules in
the way: a project with its own ``json.py`` or ``logging.py`` (names the watcher's own
imports use) keeps being watched, and an edit reloads. The watcher used to die at start
("module 'json' has no attribute 'loads'"), after which edits were never picked up."""

from daemon import wait_until
from test_app_loading import prefork_m, write

APP = """
    def setup(server):
        server.on("request", lambda req, res: res.end("{version}"))
"""


def test_a_project_with_its_own_json_and_logging_modules_is_still_watched(runs, tmp_path):
    project = write(tmp_path / "site", {"svc.py": APP.format(version="v1"), "json.py": "x = 1\n",
                                        "logging.py": "x = 1\n"})
    run = runs(prefork_m("svc:setup", "--reload"), cwd=project)
    run.wait_ready()
    wait_until(lambda: "reload: watching" in run.log() or "no longer watched" in run.log(), 30,
               what="the watcher to start watching, or to die")
    assert "no longer watched" not in run.log(), run.log()
    write(project, {"svc.py": APP.format(version="v2-edited")})
    wait_until(lambda: "generation 2 ready" in run.log() or "no longer watched" in run.log(), 60,
               what="the edit to be reloaded")
    assert "no longer watched" not in run.log(), run.log()
    assert "Traceback" not in run.log(), run.log()
