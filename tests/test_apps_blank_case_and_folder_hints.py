"""An APP refused or not found says what is off: a blank at either end (or beside the
colon) is named, where a leading one was refused without naming it and a trailing one
taken (uvicorn refuses both, gunicorn a leading one); an attribute missing in another
case gets its name (``app:APP``: did you mean 'app'?); a module one folder down, as
``mysite.wsgi`` is above a Django project, is told the ``--chdir`` to give."""

import subprocess
import sys

import pytest

from daemon import python_env

APP = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'x']\n"


def prefork(cwd, *args):
    return subprocess.run([sys.executable, "-m", "prefork", *args], capture_output=True, text=True, timeout=30,
                          env=python_env(), cwd=cwd, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("app, where, meant", [
    (" app:app", "at its start", "app:app"),
    ("app:app ", "at its end", "app:app"),
    ("app:app\t", "at its end", "app:app"),
    ("app :app", "beside the colon", "app:app"),
    ("app: app", "beside the colon", "app:app"),
    ("\napp", "at its start", "app"),
])
def test_a_blank_outside_the_names_is_refused_naming_it(tmp_path, app, where, meant):
    (tmp_path / "app.py").write_text(APP)
    proc = prefork(tmp_path, "check-config", app)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"argv:--app: expected module or module:attribute, got {app!r}: a blank "
                                        f"{where} (write {meant})"], proc.stderr


def test_blanks_inside_a_factorys_arguments_are_kept(tmp_path):
    (tmp_path / "app.py").write_text(APP + "def make(name, flag=False):\n    return app\n")
    proc = prefork(tmp_path, "--check-config", "app:make( 'a b', flag=True )")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("attribute", ["APP", "App"])
def test_an_attribute_in_another_case_gets_the_name_meant(tmp_path, attribute):
    (tmp_path / "app.py").write_text(APP)
    proc = prefork(tmp_path, "--check-config", f"app:{attribute}")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"argv:--app: module 'app' has no attribute {attribute!r} (did you mean "
                                        f"'app'?)"], proc.stderr


def django_like(root):
    (root / "mysite" / "mysite").mkdir(parents=True)
    (root / "mysite" / "manage.py").write_text("")
    (root / "mysite" / "mysite" / "__init__.py").write_text("")
    (root / "mysite" / "mysite" / "wsgi.py").write_text(APP.replace("def app", "def application"))
    (root / "mysite" / "mysite" / "settings").mkdir()
    (root / "mysite" / "mysite" / "settings" / "__init__.py").write_text("")


def test_a_module_one_folder_down_is_told_the_chdir(tmp_path):
    django_like(tmp_path)
    proc = prefork(tmp_path, "check-config", "mysite.wsgi")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == ["argv:--app: no module named 'mysite.wsgi' (mysite/mysite/wsgi.py is one "
                                        "folder down: give --chdir mysite)"], proc.stderr
    proc = prefork(tmp_path, "check-config", "--chdir", "mysite", "mysite.wsgi")
    assert proc.returncode == 0, proc.stderr


def test_the_chdir_given_is_kept_in_the_hint_and_a_package_counts(tmp_path):
    django_like(tmp_path / "srv")
    proc = prefork(tmp_path, "check-config", "--chdir", "srv", "mysite.settings")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == ["argv:--app: no module named 'mysite.settings' (srv/mysite/mysite/settings/"
                                        "__init__.py is one folder down: give --chdir srv/mysite)"], proc.stderr


def test_no_hint_when_the_folder_down_does_not_hold_the_module(tmp_path):
    django_like(tmp_path)
    proc = prefork(tmp_path, "check-config", "mysite.urls")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == ["argv:--app: no module named 'mysite.urls'"], proc.stderr
