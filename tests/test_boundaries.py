"""Layer boundaries, checked on the source: no object reaches into another's private
attributes, and the master never imports the worker-side stacks."""

import ast
import os
import subprocess
import sys

from daemon import ROOT, python_env

PACKAGE = os.path.join(ROOT, "prefork")

# (module, attribute): why this access across objects is the right shape
ALLOWED = {
    ("prefork/master/master.py", "_exit"): "os._exit is the standard library's public way to end a forked child",
}


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
    assert private_accesses() == []
