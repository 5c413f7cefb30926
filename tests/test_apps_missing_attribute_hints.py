"""An APP attribute that is not there says what is: a submodule its package does not
import is named as the module to write before the colon (``pkg.web:views`` for
``pkg/web/views.py``), and a dotted name missing past its first part says which object
lacks which part (``app.x``: ``app is a function``), where the line said only that the
module had no attribute of the whole dotted name."""

import sys

import pytest

from test_app_loading import boot_failure, prefork_m, write

from prefork import apps

PROJECT = {
    "shop/__init__.py": "",
    "shop/web/__init__.py": "",
    "shop/web/views.py": """
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"app": "views"}']

        class Holder:
            pass

        holder = Holder()
    """,
}


def test_a_submodule_named_after_the_colon_is_named_as_the_module_to_write(runs, tmp_path):
    project = write(tmp_path / "proj", PROJECT)
    log = boot_failure(runs(prefork_m("shop.web:views.app"), cwd=project))
    assert "worker 0: module 'shop.web' has no attribute 'views.app' (shop.web.views is a module its package " \
           "does not import: write APP as shop.web.views:app)\n" in log, log
    run = runs(prefork_m("shop.web.views:app"), cwd=project)
    run.wait_ready()
    assert run.get_json() == {"app": "views"}


@pytest.fixture
def project_on_path(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(write(tmp_path / "proj", PROJECT))
    yield
    for name in [name for name in sys.modules if name == "shop" or name.startswith("shop.")]:
        sys.modules.pop(name)


@pytest.mark.parametrize("app, line", [
    ("shop.web:views", "module 'shop.web' has no attribute 'views' (shop.web.views is a module its package does "
                       "not import: write APP as shop.web.views:ATTRIBUTE)"),
    ("shop.web.views:app.x", "module 'shop.web.views' has no attribute 'app.x' (app is a function, which has "
                             "no attribute 'x')"),
    ("shop.web.views:holder.ap()", "module 'shop.web.views' has no attribute 'holder.ap' (holder is a Holder "
                                   "instance, which has no attribute 'ap')"),
    ("shop.web.views:Holder.app", "module 'shop.web.views' has no attribute 'Holder.app' (Holder is a class, "
                                  "which has no attribute 'app')"),
    ("shop.web.views:nothing_like_it", "module 'shop.web.views' has no attribute 'nothing_like_it'"),
])
def test_a_missing_attribute_says_which_object_lacks_which_part(project_on_path, app, line):
    with pytest.raises(apps.AppError) as info:
        apps.load(app, chdir="", app_dir="")
    assert str(info.value) == line
