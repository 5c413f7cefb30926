"""Command line: ``prefork [APP] [--config FILE] [--SETTING VALUE ...]``,
``prefork check-config [...]``, ``prefork --version``. The only place that calls sys.exit.

APP is ``module`` or ``module:attribute`` (``prefork/apps.py`` says how it is found and
recognised). As in gunicorn, ``-c`` is ``--config``, ``-w`` is ``--workers`` and ``-b``
is ``--bind`` (repeatable).

Exit status: 0 after a clean stop, 2 for a bad configuration (every problem on its own
line as ``SOURCE:KEY: what is wrong``), 3 when the app cannot boot, 1 otherwise. A listen
address the master cannot open at start (in use, not on this host, a privileged port) is
a bad configuration too: ``SOURCE:KEY: ADDRESS: what is wrong``, where SOURCE is the file,
``env:PREFORK_BIND``, ``argv:--bind`` (or ``default:bind``) that gave the address.
``check-config`` whose reader stops early (``| head``) exits quietly with its verdict.
"""

import argparse
import os
import sys

from . import __version__, logs, settings as settings_mod


SHORT_FLAGS = {"workers": ("-w",), "bind": ("-b",)}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="prefork", description="A preforking HTTP/1.1 server with Node.js http.Server semantics.",
        epilog="Run 'prefork check-config [options]' to validate and print the effective settings.")
    parser.add_argument("app_arg", nargs="?", metavar="APP", help="module or module:attribute (see --app)")
    parser.add_argument("--config", "-c", metavar="FILE", help="TOML configuration file")
    parser.add_argument("--version", action="version", version=f"prefork {__version__}")
    for setting in settings_mod.SETTINGS:
        kwargs = {"dest": setting.name, "default": None, "help": setting.doc}
        if setting.kind == "list":
            kwargs.update(action="append", metavar="ADDRESS")
        elif setting.kind == "bool":  # --flag sets it; false is the file's or the environment's to say
            kwargs.update(action="store_const", const="true")
        else:
            kwargs["metavar"] = setting.kind.upper() if setting.kind != "choice" else "|".join(setting.choices)
        parser.add_argument(*SHORT_FLAGS.get(setting.name, ()), setting.flag, **kwargs)
    return parser


def parse(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    values = {s.name: getattr(args, s.name) for s in settings_mod.SETTINGS}
    if args.app_arg:
        values["app"] = args.app_arg
    if args.config:
        values["config"] = args.config
    return values


def load(argv_values):
    return settings_mod.load(env=os.environ, argv_values=dict(argv_values))


def parse_and_load(argv):
    """(argv values, settings), or (None, None) after reporting every problem."""
    argv_values = parse(argv)
    try:
        settings = load(argv_values)
    except settings_mod.ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None, None
    for warning in settings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return argv_values, settings


def check_config(argv):
    _, settings = parse_and_load(argv)
    if settings is None:
        return 2
    try:
        print(f"# effective settings (config file: {settings.config_file or 'none'})")
        for setting in settings_mod.SETTINGS:
            value = settings.values[setting.name]
            shown = f'"0o{value:03o}"' if setting.kind == "octal" else settings_mod.toml_value(value)
            if setting.secret and value:
                shown = '"<hidden>"'
            print(f"{setting.name} = {shown}  # {settings.sources[setting.name]}")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (| head): the verdict stands
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def run(argv):
    argv_values, settings = parse_and_load(argv)
    if settings is None:
        return 2
    try:
        logs.setup(settings)
    except OSError as exc:  # a log file that cannot be opened (permissions, a full disk...)
        key = "error_log" if exc.filename == settings.error_log else "access_log"
        print(f"{where(settings, key)}: {exc.filename}: cannot open: {(exc.strerror or str(exc)).lower()}",
              file=sys.stderr)
        return 2
    from .master.master import Master
    from .worker import main as worker_main
    try:
        return Master(settings, lambda: load(argv_values), worker_main).run()
    except settings_mod.ConfigError as exc:  # an address the master could not open
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2


def where(settings, key):
    """The ``SOURCE:KEY`` a setting's value came from."""
    source = settings.sources.get(key, "default")
    return "default:" + key if source == "default" else source


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "check-config":
        sys.exit(check_config(argv[1:]))
    sys.exit(run(argv))
