"""Two starts the app-loading checks missed: the demo (no APP) in a project whose
``json.py`` is first on the Python path (``PYTHONPATH=.``) is refused in one line, as an
app there is (every worker died in prefork's own ``import json``); and a start in a
directory already removed, with an absolute ``--chdir``, serves (it died in the
settings' check of relative paths, on ``os.getcwd()``)."""

import os

from test_app_loading import prefork_m, root_only_env, write
from test_apps_start_paths import SERVICE, in_removed_directory


def test_the_demo_in_a_project_whose_json_py_shadows_the_stdlibs_is_refused_in_one_line(runs, tmp_path):
    project = write(tmp_path / "proj", {"json.py": "ENCODER = 'own'\n"})
    env = root_only_env(PYTHONPATH=os.pathsep.join((".", root_only_env()["PYTHONPATH"])))
    run = runs(prefork_m(), cwd=project, env=env)
    assert run.wait_exit() == 2
    log = run.log()
    assert f"{project / 'json.py'} was imported as the standard library's 'json'" in log, log
    assert "Traceback" not in log and "booting worker" not in log, log


def test_started_in_a_removed_directory_an_absolute_chdir_is_served(runs, tmp_path):
    project = write(tmp_path / "proj", {"service.py": SERVICE})
    gone = tmp_path / "gone"
    gone.mkdir()
    run = runs(in_removed_directory(gone, prefork_m("--chdir", str(project), "service:app")), cwd=tmp_path)
    run.wait_ready()
    assert run.get_json() == {"app": "service"}
    assert "Traceback" not in run.log(), run.log()
