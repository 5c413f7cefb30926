"""Every prefork command line the docs show (in sh and dockerfile blocks, and in inline
code) is one the command line takes: its flags exist and its values pass check-config.
The app modules it names are made as empty files (check-config locates an app's module
without importing it) and a `--config FILE` it names is an empty TOML file."""

import glob
import json
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))


def _snippets(text):
    for block in re.finditer(r"^```(sh|dockerfile)\n(.*?)^```", text, re.S | re.M):
        for line in block.group(2).splitlines():
            if block.group(1) == "dockerfile" and "[" in line:  # ENTRYPOINT ["...", ...]
                yield " ".join(shlex.quote(word) for word in json.loads(line[line.index("["):]))
            else:
                yield line.split(" #")[0]
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    yield from re.findall(r"`([^`\n]+)`", prose)


def documented_commands():
    commands = []
    for doc in DOCS:
        with open(os.path.join(ROOT, doc)) as fh:
            text = fh.read()
        for snippet in _snippets(text):
            match = re.search(r"(?:^|&&\s*|/|-m )prefork((?:\s+\S+)+)$", snippet.strip())
            if match and not snippet.lstrip().startswith("$"):
                commands.append((doc, shlex.split(match.group(1))))
    return commands


def _switches():
    from prefork.settings import SETTINGS

    names = [s.flag for s in SETTINGS if s.kind == "bool"]
    return set(names + ["--no-" + flag[2:] for flag in names] + ["--version", "--help", "--check-config"])


def _workspace(tmp_path, args):
    """An empty module for the app the arguments name, an empty file for --config."""
    args, switches = list(args), _switches()
    for i, arg in enumerate(args):
        previous = args[i - 1] if i else ""
        if previous in ("--config", "-c"):
            args[i] = str(tmp_path / "empty.toml")
            (tmp_path / "empty.toml").write_text("")
        elif arg.startswith("-") or arg == "check-config":
            continue
        elif not previous.startswith("-") or "=" in previous or previous in switches:
            module = tmp_path.joinpath(*arg.split(":")[0].split("."))
            module.parent.mkdir(parents=True, exist_ok=True)
            module.with_suffix(".py").touch()
    return args


def test_the_docs_show_prefork_commands():
    docs = {doc for doc, _ in documented_commands()}
    assert {"README.md", "docs/gunicorn.md", "docs/asgi.md"} <= docs, docs


def test_every_documented_prefork_command_line_is_valid(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFORK_") and k not in ("PORT", "WEB_CONCURRENCY")}
    env["PYTHONPATH"] = ROOT
    runs, seen = [], set()
    for doc, args in documented_commands():
        if tuple(args) in seen or "--check-config" in args:  # (--check-config imports the app)
            continue
        seen.add(tuple(args))
        args = _workspace(tmp_path, args)
        if args and args[0] == "check-config":
            args = args[1:]
        command = [sys.executable, "-m", "prefork"] + (args if args in (["--version"], ["--help"]) else
                                                          ["check-config"] + args)
        runs.append((doc, args, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                 stdin=subprocess.DEVNULL, text=True, cwd=tmp_path, env=env)))
    failures = []
    for doc, args, proc in runs:
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        if proc.returncode != 0:
            failures.append(f"{doc}: prefork {' '.join(args)}: status {proc.returncode}\n{err}")
    assert len(runs) >= 20, runs
    assert not failures, "\n".join(failures)
