"""What an APP that cannot be found or loaded is missing, in words (hints only; the
finding and loading are apps.py's).

Rules:
- Every function returns text for a one-line message (a hint in parentheses, or a
  clause), never raises, and imports nothing of the app's: the master calls them too.
- ``blank_in``: a blank that is no part of a name (at an APP string's ends, or beside its
  colon) is named: uvicorn refuses one at either end, gunicorn one before a name.
- ``missing``: the nearest attribute's name (compared case-folded too: ``APP`` for
  ``app``), or a submodule its package does not import.
- ``one_folder_down``: a module not found that is a file in the folder its first part
  names (``mysite.wsgi`` run above a Django project) is told the ``--chdir`` to give.
"""

import importlib.util
import inspect
import os


def blank_in(app, module, attribute):
    """Where an APP string has a blank that is no part of a name (at its start or end, or
    beside its colon), in words, else ""."""
    if not app.strip():
        return ""
    if app[:1].isspace():
        return "at its start"
    if app[-1:].isspace():
        return "at its end"
    if module[-1:].isspace() or attribute[:1].isspace():
        return "beside the colon"
    return ""


def one_folder_down(module, chdir, app_dir, base):
    """`` (give --chdir DIR)`` when ``module`` is a file in the folder its first part names
    under ``base`` (``mysite.wsgi`` run above a Django project: ``mysite/mysite/wsgi.py``),
    else "" (an ``app_dir`` relative to ``chdir`` would move with it: no hint then)."""
    if app_dir and not os.path.isabs(app_dir):
        return ""
    parts = module.split(".")
    inner = os.path.join(base, parts[0], *parts)
    for found in (inner + ".py", os.path.join(inner, "__init__.py")):
        if os.path.isfile(found):
            shown = os.path.join(chdir, os.path.relpath(found, base))
            return f" ({shown} is one folder down: give --chdir {os.path.join(chdir, parts[0])})"
    return ""


def missing(module_name, attribute, dotted, depth, found):
    """The one line for the part at ``depth`` of ``attribute``'s dotted name missing from
    ``found`` (the module, or the object the parts before it name): a close name, or a
    submodule of that name its package does not import (APP names it before the colon)."""
    parts = dotted.split(".")
    part = parts[depth]
    names = [name for name in dir(found) if not name.startswith("_")]
    from difflib import get_close_matches  # an error's hint only

    close = get_close_matches(part, names, n=1, cutoff=0.6)
    if not close:  # (APP for app: difflib compares case, a reader does not)
        folded = {name.casefold(): name for name in reversed(names)}
        close = [folded[match] for match in get_close_matches(part.casefold(), list(folded), n=1, cutoff=0.6)]
    notes = [f"{'.'.join(parts[:depth])} is {what(found)}, which has no attribute {part!r}"] if depth else []
    if close:
        notes.append(f"did you mean {close[0]!r}?")
    elif depth == 0:
        submodule = f"{found.__name__}.{part}"
        try:
            if importlib.util.find_spec(submodule) is not None:
                text = attribute.strip()
                call = text[text.index("("):] if "(" in text else ""  # (its arguments may hold dots)
                rest = dotted.partition(".")[2]
                rest = rest + call if rest else "ATTRIBUTE"
                notes.append(f"{submodule} is a module its package does not import: write APP as {submodule}:{rest}")
        except (ImportError, ValueError):
            pass
    return f"module {module_name!r} has no attribute {dotted!r}" + (f" ({'; '.join(notes)})" if notes else "")


def what(obj):
    if inspect.isclass(obj):
        return "a class"
    if inspect.ismodule(obj):
        return "a module"
    if inspect.isroutine(obj):
        return "a function"
    name = type(obj).__qualname__
    return ("an " if name[:1] in "aeiouAEIOU" else "a ") + f"{name} instance"
