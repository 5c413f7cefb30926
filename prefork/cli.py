"""Command line: ``prefork [APP] [--config FILE] [--SETTING VALUE ...]``, ``prefork
check-config [...]`` (the word may also come after the options, where APP would be, the
app after it: no module is named so), ``prefork --check-config`` or ``--print-config``
(gunicorn's spellings, which also load the app in a child process, as gunicorn's do:
status 3 and the reason when it cannot be loaded), ``prefork --version``. The only place that calls sys.exit.

APP is ``module`` or ``module:attribute`` (``prefork/apps.py`` says how it is found,
``prefork/recognise.py`` how it is recognised). As in gunicorn, ``-c`` is ``--config``, ``-w`` is ``--workers`` and ``-b``
is ``--bind`` (repeatable: a list flag of one entry adds to the list each time; one that
takes the whole list comma-separated, ``--forwarded-allow-ips``, takes its last value, as
gunicorn and uvicorn do). A boolean setting is ``--name`` or ``--no-name``, with no
value (``--reload true`` is refused saying so). Flags are written in full: argparse's
abbreviations are off, since one could stand for another setting (uvicorn's
``--header`` for ``--headers-timeout``); gunicorn's ``--keep-alive`` and ``--pid`` and
uvicorn's ``--reload-dir`` are aliases. A flag prefork does not know is refused in a
few lines (exit status 2), with the flag to use when it is gunicorn's or uvicorn's
(``migration.py``) or near one of prefork's.

Exit status: 0 after a clean stop, 2 for a bad configuration (every problem on its own
line as ``SOURCE:KEY: what is wrong``), 3 when the app cannot boot, 1 otherwise. A listen
address the master cannot open at start (in use, not on this host, a privileged port) is
a bad configuration too: ``SOURCE:KEY: ADDRESS: what is wrong``, where SOURCE is the file,
``env:PREFORK_BIND``, ``argv:--bind`` (or ``default:bind``) that gave the address.
``check-config`` whose reader stops early (``| head``) exits quietly with its verdict.
Run by a USR2 (``PREFORK_HANDOVER_KEYS`` set), it also opens and closes each listen
address the new program would not inherit (``master/listeners.py``), and refuses a
pidfile another running prefork master holds (the new program would refuse it).
"""

import argparse
import json
import os
import signal
import sys

from . import __version__, bindcheck, logs, migration, settings as settings_mod


SHORT_FLAGS = {"workers": ("-w",), "bind": ("-b",)}
# other servers' spellings taken as they are (every other flag is spelled out in full:
# an abbreviation could silently be another setting, as uvicorn's --header would be
# --headers-timeout)
ALIASES = {"keep_alive_timeout": ("--keep-alive",), "pidfile": ("--pid",), "reload_dirs": ("--reload-dir",)}
CHECK_FLAGS = ("--check-config", "--print-config")  # gunicorn's spellings of check-config
METAVARS = {"bind": "ADDRESS", "proxy_protocol_bind": "ADDRESS", "forwarded_allow_ips": "IP",
            "proxy_allow_ips": "IP", "reload_dirs": "DIR", "reload_include": "GLOB", "chdir": "DIR",
            "app_dir": "DIR", "certfile": "FILE", "keyfile": "FILE", "ca_certs": "FILE", "pidfile": "FILE",
            "access_log": "FILE", "error_log": "FILE", "app": "APP", "metrics_bind": "ADDRESS",
            "metrics_buckets": "SECONDS,...", "user": "USER", "group": "GROUP", "umask": "MODE",
            "access_log_format": "FORMAT", "keyfile_password": "PASSWORD", "ciphers": "CIPHERS",
            "proc_name": "NAME", "root_path": "PATH"}
KIND_METAVARS = {"int": "N", "float": "SECONDS"}
HELP_GROUPS = (  # --help lists the options under these headings, in this order
    ("listening", ("bind", "backlog", "unix_socket_mode", "proxy_protocol", "proxy_protocol_bind", "proxy_allow_ips",
                   "proxy_protocol_timeout")),
    ("workers and supervision", ("workers", "timeout", "graceful_timeout", "readiness_withdraw", "max_requests",
                                 "max_requests_jitter", "max_worker_memory", "user", "group", "umask", "pidfile",
                                 "proc_name")),
    ("the app", ("app", "interface", "chdir", "app_dir", "loop", "root_path", "forwarded_allow_ips", "threads",
                 "wsgi_body_spool", "max_body_size", "lifespan", "startup_timeout", "ws_max_size", "ws_ping_interval", "ws_ping_timeout",
                 "ws_per_message_deflate")),
    ("HTTP timeouts and limits", ("keep_alive_timeout", "headers_timeout", "request_timeout",
                                  "max_requests_per_socket", "max_connections", "max_header_size", "max_headers_count",
                                  "connections_checking_interval")),
    ("TLS", ("certfile", "keyfile", "keyfile_password", "ca_certs", "verify_client", "tls_min_version", "ciphers",
             "tls_handshake_timeout")),
    ("logging", ("log_level", "error_log", "access_log", "access_log_format", "access_log_flush")),
    ("operations endpoints (/metrics, /healthz, /readyz, /status)", ("metrics_bind", "metrics_buckets")),
    ("development", ("reload", "reload_dirs", "reload_include")),
)


class Parser(argparse.ArgumentParser):
    """argparse, whose mistakes are a few lines: the problem, what to use instead when
    the flag is gunicorn's or uvicorn's, and where the options are listed."""

    def error(self, message):
        if message == "argument --access-log: expected one argument":  # uvicorn's --access-log is a switch
            message += ("\n  --access-log with no value is uvicorn's switch: the access log is on here unless set "
                        "empty (to stderr by default); --access-log takes - or a file's path")
        self.exit(2, f"prefork: error: {message}\nRun 'prefork --help' for every option.\n")


def help_text(setting):
    """The setting's doc with its default (escaped for argparse, which formats help with %)."""
    default = None
    if setting.default_doc:
        default = setting.default_doc
    elif setting.kind == "bool":
        default = "on" if setting.default else "off"
    elif setting.kind == "octal":
        default = f"0o{setting.default:03o}"
    elif setting.default not in ("", []):
        default = ",".join(map(str, setting.default)) if isinstance(setting.default, list) else setting.default
    elif "(default: " not in setting.doc:
        default = "none"  # (every setting shows its default, an empty one too)
    text = setting.doc
    if default is not None:
        text += f" (default: {default})" + (f" ({setting.fallback})" if setting.fallback else "")
    return text.replace("%", "%%")


def build_parser(check=False):
    description, epilog = settings_mod.CHECK_CONFIG_HELP if check else (
        "A preforking HTTP/1.1 server with Node.js http.Server semantics.",
        "Every option is also a TOML key of the config file (name_with_underscores) and a PREFORK_NAME environment "
        "variable; flags win over the environment, which wins over the file. Run 'prefork check-config [options]' to "
        "validate and print the effective settings (--check-config, gunicorn's spelling, also imports the app).")
    parser = Parser(prog="prefork check-config" if check else "prefork", allow_abbrev=False,
                    description=description, epilog=epilog)
    parser.add_argument("app_arg", nargs="?", metavar="APP", help="module or module:attribute (see --app)")
    actions = [parser.add_argument("--config", "-c", metavar="FILE", help="TOML configuration file (default: "
                                   "PREFORK_CONFIG, else none)"),
               parser.add_argument("--version", action="version", version=f"prefork {__version__}")]
    groups = {}
    for title, names in HELP_GROUPS:
        group = parser.add_argument_group(title)
        groups.update(dict.fromkeys(names, group))
    for setting in settings_mod.SETTINGS:
        kwargs = {"dest": setting.name, "default": None, "help": help_text(setting)}
        if setting.kind == "list":  # one entry a flag (-b a -b b), or the whole list in one (the last one wins)
            kwargs.update(action="store" if setting.commas else "append", metavar=METAVARS.get(setting.name, "VALUE"))
        elif setting.kind == "bool":  # --flag and --no-flag
            kwargs.update(action=argparse.BooleanOptionalAction)
        elif setting.kind == "choice":
            kwargs["metavar"] = "|".join(setting.choices)
        else:
            kwargs["metavar"] = METAVARS.get(setting.name) or KIND_METAVARS.get(setting.kind, "VALUE")
        flags = (*SHORT_FLAGS.get(setting.name, ()), setting.flag, *ALIASES.get(setting.name, ()))
        actions.append(groups.get(setting.name, parser).add_argument(*flags, **kwargs))
    # the flags spelled out (a near miss's hint names one): argparse keeps no public list
    parser.long_flags = ["--help"] + [flag for action in actions for flag in action.option_strings
                                      if flag.startswith("--")]
    return parser


BOOLEAN_WORDS = ("true", "false", "on", "off", "yes", "no", "1", "0")
PROXY_PROTOCOL_MODES = ("v1", "v2", "auto")  # gunicorn's --proxy-protocol MODE


def boolean_values(argv):
    """What is wrong with a boolean flag given a value (``--reload true``, gunicorn's
    ``--proxy-protocol v2``): argparse would take the value for APP, or refuse it
    without saying how a boolean is written. One line per such flag."""
    flags = {s.flag: s.name for s in settings_mod.SETTINGS if s.kind == "bool"}
    flags.update({"--no-" + flag[2:]: name for flag, name in list(flags.items())})
    problems = []
    for i, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if flag not in flags:
            continue
        if not eq:
            value = argv[i + 1] if i + 1 < len(argv) else ""
        if value.lower() not in BOOLEAN_WORDS + PROXY_PROTOCOL_MODES:
            if eq:
                problems.append(f"{flag} takes no value: write {flag}")
            continue
        on, off = "--" + flags[flag].replace("_", "-"), "--no-" + flags[flag].replace("_", "-")
        if flags[flag] == "proxy_protocol" and value.lower() in PROXY_PROTOCOL_MODES:
            problems.append(f"{flag} {value} is gunicorn's: both versions are read here, write {on} "
                            f"(off: {off})")
        else:
            problems.append(f"{flag} takes no value: write {on} or {off}")
    return problems


def parse(argv, check=False):
    parser = build_parser(check)
    problems = boolean_values(argv)
    if problems:
        parser.error(problems[0] + "".join(f"\n{problem}" for problem in problems[1:]))
    args, unknown = parser.parse_known_args(argv)
    if args.app_arg == "check-config" and len(unknown) == 1 and not unknown[0].startswith("-"):
        unknown = []  # its app after it (prefork -c FILE check-config APP): run() parses again without the word
    flags = [arg.split("=", 1)[0] for arg in unknown if arg.startswith("-")]
    if unknown:
        hints = migration.flag_hints(argv, flags, lambda flag: _near_flag(parser, flag), args.app_arg)
        hints += migration.check_config_after(argv, unknown, args.app_arg)  # the word after the app: its place
        parser.error(f"unrecognized arguments: {migration.unrecognized(argv, unknown, args.app_arg, hints)}")
    if args.app_arg and args.app and args.app_arg not in (args.app, "check-config"):  # which one was meant?
        parser.exit(2, f"argv:--app: two apps on the command line, --app {args.app} and APP {args.app_arg}: "
                       f"give one\n")
    values = {s.name: getattr(args, s.name) for s in settings_mod.SETTINGS}
    if args.app_arg:
        values["app"] = args.app_arg
    if args.config:
        values["config"] = args.config
    return values


def _near_flag(parser, flag):
    """``--worker is not an option: did you mean --workers?`` for a near miss, or None."""
    if not flag.startswith("--"):
        return None
    from difflib import get_close_matches  # an error's hint only

    close = get_close_matches(flag, parser.long_flags, n=1, cutoff=0.8)
    return f"{flag} is not an option: did you mean {close[0]}?" if close else None


def load(argv_values, text=None, running=None):
    return settings_mod.load(env=os.environ, argv_values=dict(argv_values), text=text, running=running)


def parse_and_load(argv, text=None, check=False):
    """(argv values, settings), or (None, None) after reporting every problem (``text``:
    the configuration file's content, when it was read already)."""
    argv_values = parse(argv, check)
    try:
        settings = load(argv_values, text)
    except settings_mod.ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None, None
    for warning in settings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return argv_values, settings


def check_config(argv, load_app=False, text=None):
    """Validate and print the settings. ``load_app`` (gunicorn's spellings, --check-config
    and --print-config, which load the app as gunicorn's do) also loads the app in a child
    process; ``check-config`` itself only locates the app's module, importing nothing,
    except when a USR2 runs it (``PREFORK_HANDOVER_KEYS`` set): then it loads the app too.
    ``text``: the configuration file's content, read already (a USR2's check)."""
    _, settings = parse_and_load(argv, text, check=True)
    if settings is None:
        return 2
    from .master.startup import descriptor_shortage
    shortage = descriptor_shortage(settings.workers)
    if shortage is not None:  # a start would refuse it
        source = settings.sources.get("workers", "default")
        print(f"{'default:workers' if source == 'default' else source}: {shortage}", file=sys.stderr)
        return 2
    handover = os.environ.get("PREFORK_HANDOVER_KEYS")
    if handover is not None:  # run by a USR2: could the new program open what it would not inherit?
        problems = trial_bind(settings, json.loads(handover)) + pidfile_taken(settings)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 2
    else:  # an fd://N this process does not hold: a warning (the start may be handed what check-config is not)
        print("".join(f"warning: {line}\n" for line in bindcheck.unheld_fds(settings, where)), end="", file=sys.stderr)
    if (load_app or handover is not None) and settings.app:
        # a CI step running gunicorn's --check-config catches an app that cannot load, and
        # a USR2 one a deploy broke (the new program's workers would load it)
        from .loadcheck import check_app_loads
        status = check_app_loads(settings, where)
        if status:
            return status
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


def trial_bind(settings, handed_over):
    """``SOURCE:KEY: ADDRESS: what is wrong`` for each listen address a re-exec'd master
    would open itself and cannot now."""
    from .master import listeners

    if any(key.startswith("systemd:") for key in handed_over):  # socket activation stands in for bind
        failures = []
    else:
        failures = [(where(settings, "bind"), address, reason) for address, reason in listeners.trial_bind(
            settings.bind, handed_over, settings.backlog, settings.unix_socket_mode)]
    if settings.metrics_bind:
        failures += [(where(settings, "metrics_bind"), address, reason) for address, reason in listeners.trial_bind(
            [settings.metrics_bind], handed_over, 128, prefix=listeners.METRICS_PREFIX)]
    return [f"{source}: {address}: {reason}" for source, address, reason in failures]


def pidfile_taken(settings):
    """A USR2's check: the pidfile the new program would write, when another running
    prefork master holds it (the new program would refuse to start on it); the master
    re-executing, this check's parent, may hold it."""
    from .master import pidfile
    holder = pidfile.holder(settings.pidfile) if settings.pidfile else None
    if holder is None or holder == os.getppid():
        return []
    return [f"{where(settings, 'pidfile')}: {settings.pidfile}: prefork is already running as pid {holder}"]


def run(argv):
    # a USR2's check and new program: the configuration file's content the master read for
    # both (a later edit reaches neither; a HUP reads the file again)
    checked = os.environ.pop(settings_mod.CHECKED_CONFIG_ENV, None)
    if parse(argv, "check-config" in argv).get("app") == "check-config":  # the subcommand after options
        at = max(i for i, arg in enumerate(argv) if arg == "check-config")
        return check_config(argv[:at] + argv[at + 1:], text=checked)
    from .master.master import MASTER_SIGNALS, Master
    # a stop signal that comes while the configuration is read and the logs opened is held
    # until the master's handlers are in (PID 1 would otherwise ignore it)
    signal.pthread_sigmask(signal.SIG_BLOCK, MASTER_SIGNALS)
    argv_values, settings = parse_and_load(argv, checked)
    if settings is None:
        return 2
    os.umask(settings.umask)  # before the first file the daemon makes: its log files
    from .apps import remember_start
    remember_start()  # where it starts, kept by path (a deploy may replace the directory)
    try:
        logs.setup(settings)
    except OSError as exc:  # a log file that cannot be opened (permissions, a full disk...)
        key = "error_log" if exc.filename == settings.error_log else "access_log"
        print(f"{where(settings, key)}: {exc.filename}: cannot open: {(exc.strerror or str(exc)).lower()}",
              file=sys.stderr)
        return 2
    from .worker import main as worker_main
    try:
        return Master(settings, lambda running=None, text=None: load(argv_values, text, running), worker_main).run()
    except settings_mod.ConfigError as exc:  # an address the master could not open
        for problem in exc.problems:
            logs.tell_starter(problem)
        return 2


def where(settings, key):
    """The ``SOURCE:KEY`` a setting's value came from."""
    source = settings.sources.get(key, "default")
    return "default:" + key if source == "default" else source


def standard_streams():
    """Descriptors 0, 1 and 2 open before anything else is: a process started with them
    closed (some supervisors and daemonizers do so) gets /dev/null in their place.
    Otherwise the next files and sockets take those numbers (the error log dup'd onto 2
    would replace whatever took it), and ``sys.stderr`` is None, which a worker's
    faulthandler refuses: every worker then died at boot without a word."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False)
    if sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False, errors="backslashreplace")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    standard_streams()
    if argv and argv[0] == "check-config":  # (a USR2's check: the content its master read, as run's new program)
        sys.exit(check_config(argv[1:], text=os.environ.pop(settings_mod.CHECKED_CONFIG_ENV, None)))
    if any(flag in argv for flag in CHECK_FLAGS):
        sys.exit(check_config([arg for arg in argv if arg not in CHECK_FLAGS], load_app=True))
    sys.exit(run(argv))
