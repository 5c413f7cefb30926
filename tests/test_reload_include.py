"""--reload's reload_include, as uvicorn's --reload-include reads it: a pattern is
matched against the changed file's path from the right, so ``templates/*.html`` names
the pages of one folder (a pattern naming a folder matched nothing: no change reloaded)."""

import os
import re

from daemon import HERE, ROOT, wait_until
from test_autoreload import body, needs_watchfiles, watcher_of


@needs_watchfiles
def test_a_pattern_with_a_folder_matches_the_files_in_that_folder(daemons, tmp_path):
    for folder in ("templates", "static"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "page.html").write_text("page one")
    (tmp_path / "folder_app.py").write_text(
        "import os\n"
        "PAGE = open(os.path.join(os.path.dirname(__file__), 'templates', 'page.html')).read()\n"
        "def setup(server):\n"
        "    server.on('request', lambda req, res: res.end(PAGE))\n")
    daemon = daemons("--reload", "--reload-include", "templates/*.html", app="folder_app:setup", workers=1,
                     env={"PYTHONPATH": os.pathsep.join([ROOT, HERE, str(tmp_path)])})
    daemon.wait_log(r"reload: watching " + re.escape(str(tmp_path)) + r" for templates/\*\.html", timeout=30)
    daemon.wait_ready()
    daemon.seen.add(wait_until(lambda: watcher_of(daemon), 10, what="the watcher process"))
    assert body(daemon.request()) == b"page one"
    (tmp_path / "static" / "page.html").write_text("another folder's page")
    (tmp_path / "templates" / "page.html").write_text("page two")
    wait_until(lambda: body(daemon.request()) == b"page two", 20, what="the edited page")
    changed = re.findall(r"reload: changed: (.*)", daemon.log())
    assert changed == [str(tmp_path / "templates" / "page.html")]  # the other edit came first
