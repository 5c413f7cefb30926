"""Every setting, declared once: name, type, default, doc, reloadable.

Sources, highest first: command-line flags, ``PREFORK_<NAME>`` environment variables,
the TOML file, the defaults. ``load`` collects every problem it finds (it never stops at
the first) as ``SOURCE:KEY: what is wrong`` lines, where SOURCE is the config file's
path, ``env`` or ``argv``. Listen addresses are checked as far as can be without binding
(IP literals parsed, host names resolved, a UNIX socket's directory present, no address
twice, ``metrics_bind`` not one of ``bind``); the app's module is located, never
imported; ``user`` and ``group`` must exist; the directories of ``pidfile`` and the log
files must exist. Numbers must be finite; durations are at most ``DURATION_MAX``
seconds (the master's loop cannot sleep longer in one wait), ``workers`` at most
``MAX_WORKERS``. An unknown key in the file is a problem (with the closest setting's
name when one is near); an unknown ``PREFORK_*`` variable near a setting's is a warning
(``Settings.warnings``), since other tools may set variables of that prefix.
``workers`` falls back on ``WEB_CONCURRENCY`` (set by hosting platforms) below all of
those, before the CPU count.
``config/prefork.toml`` is generated from this table
(``python -m prefork.settings > config/prefork.toml``).
"""

import difflib
import importlib.util
import math
import os
import re
import socket
import tomllib
from dataclasses import dataclass, field

INTERFACES = ("auto", "events", "wsgi", "asgi")
LOOPS = ("asyncio", "uvloop")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
VERIFY_CLIENT = ("none", "optional", "required")
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
SCHEMES = ("http://", "https://")
TLS_SETTINGS = ("bind", "certfile", "keyfile", "keyfile_password", "ca_certs", "verify_client", "tls_min_version",
                "ciphers")
DEFAULT_ACCESS_FORMAT = '{h} - - [{t}] "{r}" {s} {b} "{f}" "{a}" {D}'
DURATION_MAX = 1e6  # seconds, about 11.5 days: every float setting is at most this
MAX_WORKERS = 1024


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # str, int, float, bool, list, numbers, octal, choice
    default: object
    doc: str
    reloadable: bool = True
    minimum: float = None
    maximum: float = None
    choices: tuple = ()
    default_doc: str = None  # for defaults computed at run time
    secret: bool = False  # never printed (check-config shows it as hidden)

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    @property
    def env(self):
        return "PREFORK_" + self.name.upper()


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


SETTINGS = (
    Setting("bind", "list", ["127.0.0.1:8000"],
            "Addresses to listen on: HOST:PORT, [V6]:PORT, unix:PATH or fd://N (an inherited "
            "listening socket). Sockets passed by systemd socket activation are used instead "
            "when present. A change needs a restart (or USR2). An address may start with "
            "https:// (TLS) or http:// (plain); one without is TLS when certfile is set.",
            reloadable=False),
    Setting("backlog", "int", 2048, "Listen backlog of each socket the master binds.",
            reloadable=False, minimum=1, maximum=65535),
    Setting("certfile", "str", "", "TLS: the server's certificate chain (PEM, leaf first). Set, it "
            "makes every bind address without a scheme speak TLS. Re-read on reload (HUP)."),
    Setting("keyfile", "str", "", "TLS: the private key (PEM); empty: the key is in certfile."),
    Setting("keyfile_password", "str", "", "TLS: the password of an encrypted keyfile.", secret=True),
    Setting("ca_certs", "str", "", "TLS: CA certificates (PEM) client certificates are verified "
            "against (with verify_client)."),
    Setting("verify_client", "choice", "none", "TLS: ask for a client certificate: none, optional "
            "(verified when sent) or required (mutual TLS; needs ca_certs).", choices=VERIFY_CLIENT),
    Setting("tls_min_version", "choice", "TLSv1.2", "TLS: the oldest protocol version accepted: "
            "TLSv1.2 or TLSv1.3.", choices=TLS_VERSIONS),
    Setting("ciphers", "str", "", "TLS: OpenSSL cipher list for TLS 1.2 (e.g. \"ECDHE+AESGCM\"); "
            "empty: OpenSSL's defaults. TLS 1.3 suites are OpenSSL's."),
    Setting("tls_handshake_timeout", "float", 10.0, "TLS: seconds a client gets to finish the "
            "handshake; then the connection is closed (tlsClientError).", minimum=0.01),
    Setting("workers", "int", None, "Number of worker processes. When no flag, PREFORK_WORKERS or "
            "config file sets it: WEB_CONCURRENCY, else one per CPU. At most 1024.", minimum=1,
            maximum=MAX_WORKERS,
            default_doc="WEB_CONCURRENCY, or the number of CPUs this process may run on"),
    Setting("app", "str", "", "The application, as module or module:attribute; without an "
            "attribute the module's setup, application and app are tried in that order. Found "
            "in app_dir, then chdir, then on the Python path. Empty: the demo app."),
    Setting("interface", "choice", "auto", "How the app plugs in: events (setup(server) registers "
            "Node's http.Server listeners), wsgi, asgi, or auto (recognised from the object).",
            choices=INTERFACES),
    Setting("chdir", "str", "", "Directory each worker changes to before it imports the app (and "
            "the first place the app's module is searched); empty: where prefork was started."),
    Setting("app_dir", "str", "", "A directory put first on the Python path for the app; relative "
            "to chdir."),
    Setting("loop", "choice", "asyncio", "The workers' event loop: asyncio (the standard library's "
            "selector loop) or uvloop (pip install 'prefork[uvloop]').", choices=LOOPS),
    Setting("reload", "bool", False, "Development: watch the app's source files and reload the "
            "workers when one changes, as HUP does (no request dropped). Needs watchfiles (pip install "
            "'prefork[reload]'). Unless workers is given, one worker.", reloadable=False),
    Setting("reload_dirs", "list", [], "Development: the directories reload watches, recursively. "
            "Empty: the app's own directory (its top-level package, or the folder of its module).",
            reloadable=False),
    Setting("reload_include", "list", ["*.py"], "Development: file name patterns (shell globs) whose "
            "changes trigger a reload.", reloadable=False),
    Setting("root_path", "str", "", "WSGI and ASGI: the URL prefix the app is mounted at (SCRIPT_NAME, "
            "the scope's root_path)."),
    Setting("wsgi_body_spool", "int", 1024 * 1024, "WSGI: request bodies up to this many bytes are "
            "kept in memory before the app is called; larger ones go to a temporary file.", minimum=0),
    Setting("max_body_size", "int", 100 * 1024 * 1024, "WSGI: larger request bodies get a 413 "
            "without calling the app.", minimum=0),
    Setting("threads", "int", 1, "WSGI: threads per worker that run the app. 1 runs one call at a "
            "time on the worker's loop; more run the app on a thread pool while the loop keeps the "
            "sockets (wsgi.multithread is then true).", minimum=1),
    Setting("forwarded_allow_ips", "list", ["127.0.0.1", "::1", "unix"], "WSGI and ASGI: peers whose "
            "X-Forwarded-For, X-Forwarded-Proto and Forwarded headers are trusted: IP addresses, networks "
            "(10.0.0.0/8), unix (UNIX-socket peers: a proxy on this host, as gunicorn trusts them), or * for any."),
    Setting("lifespan", "choice", "auto", "ASGI: the lifespan protocol. auto: used when the app speaks "
            "it; on: an app that does not is a failed boot; off: never sent.", choices=("auto", "on", "off")),
    Setting("ws_max_size", "int", 16 * 1024 * 1024, "ASGI: bytes a received WebSocket message may hold; "
            "a larger one closes the connection with code 1009.", minimum=1),
    Setting("ws_ping_interval", "float", 20.0, "ASGI: seconds between the server's WebSocket pings "
            "(0: none).", minimum=0),
    Setting("ws_ping_timeout", "float", 20.0, "ASGI: seconds a WebSocket client gets to answer a ping "
            "before the connection is closed with code 1011 (0: no limit).", minimum=0),
    Setting("ws_per_message_deflate", "bool", True, "ASGI: accept the permessage-deflate WebSocket "
            "compression when the client offers it."),
    Setting("proxy_protocol", "bool", False, "Every listener expects the PROXY protocol (v1 or v2, "
            "as HAProxy's send-proxy and cloud load balancers send it): the client's address comes "
            "from the header. A connection without a valid header is closed and counted."),
    Setting("proxy_protocol_bind", "list", [], "The bind addresses (as written in bind, or "
            "systemd:NAME) that expect the PROXY protocol, when proxy_protocol is off."),
    Setting("proxy_allow_ips", "list", ["127.0.0.1", "::1"], "Peers allowed to send a PROXY header: "
            "IP addresses, networks (10.0.0.0/8), unix, or * for any. Other peers of a PROXY "
            "listener are refused (closed and counted, never served)."),
    Setting("proxy_protocol_timeout", "float", 5.0, "Seconds a connection on a PROXY listener "
            "gets to send its header.", minimum=0.01),
    Setting("timeout", "float", 30.0, "Seconds a worker may go without a heartbeat before it is "
            "aborted (SIGABRT, stack dumped to the error log) and replaced.", minimum=0.5),
    Setting("graceful_timeout", "float", 30.0, "Seconds a draining worker gets to finish its "
            "requests before it is killed.", minimum=0),
    Setting("readiness_withdraw", "float", 0.0, "Seconds /readyz answers 503 before draining "
            "begins, on a graceful stop (TERM) and at a reload's switch-over, while the workers still "
            "accept: set it to a few of the load balancer's health-check intervals so that it stops "
            "sending first. 0: drain at once.", minimum=0),
    Setting("max_requests", "int", 0, "Requests after which a worker is replaced (0: never).",
            minimum=0),
    Setting("max_requests_jitter", "int", 0, "A random 0..N added to max_requests per worker.",
            minimum=0),
    Setting("keep_alive_timeout", "float", 5.0, "Seconds an idle keep-alive connection is kept "
            "(closed at this + 1 s, as Node does); 0 disables keep-alive timing.", minimum=0),
    Setting("headers_timeout", "float", 60.0, "Seconds a client gets to send a request head.",
            minimum=0),
    Setting("request_timeout", "float", 300.0, "Seconds a client gets to send a whole request.",
            minimum=0),
    Setting("max_requests_per_socket", "int", 0, "Requests served on one connection; later "
            "ones get a 503 (0: unlimited).", minimum=0),
    Setting("max_header_size", "int", 16384, "Bytes of request target, header names and "
            "values a request head may hold.", minimum=1),
    Setting("max_headers_count", "int", 1000, "Header lines kept in req.headers (0: all).",
            minimum=0),
    Setting("connections_checking_interval", "float", 30.0, "Seconds between checks of "
            "headers_timeout and request_timeout.", minimum=0.01),
    Setting("metrics_bind", "str", "127.0.0.1:9464", "Where the master serves Prometheus metrics "
            "(HOST:PORT or fd://N; path /metrics); empty disables metrics.", reloadable=False),
    Setting("metrics_buckets", "numbers", [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
            "Upper bounds in seconds of the request duration histogram's buckets: positive, "
            "strictly increasing (flag and env: comma-separated).", reloadable=False),
    Setting("pidfile", "str", "", "A file to write the master's PID to (removed on exit).",
            reloadable=False),
    Setting("user", "str", "", "User the workers run as when started as root: a name or a uid (a uid "
            "without a passwd entry needs group).", reloadable=False),
    Setting("group", "str", "", "Group the workers run as when started as root.",
            reloadable=False),
    Setting("umask", "octal", 0o022, "File mode creation mask of the daemon (e.g. \"0o022\").",
            reloadable=False),
    Setting("log_level", "choice", "info", "Error log level.", choices=LOG_LEVELS),
    Setting("access_log", "str", "-", "Access log file; - is stderr, empty disables it."),
    Setting("access_log_format", "str", DEFAULT_ACCESS_FORMAT, "Access log line. Fields: "
            "{h} client address, {t} time, {r} request line, {m} method, {U} URL, {s} status, "
            "{b} body bytes or -, {f} referer, {a} user agent, {D} duration in microseconds, "
            "{L} duration in seconds, {p} worker pid."),
    Setting("access_log_flush", "float", 1.0, "Seconds access log lines may wait in a worker's "
            "buffer before they are written (also written at 64 KiB, on USR1 and when the worker "
            "exits); a worker killed with SIGKILL loses at most this much. 0 writes every line "
            "at once.", minimum=0),
    Setting("error_log", "str", "-", "Error log file; - is stderr."),
    Setting("proc_name", "str", "", "Name shown in process titles (default: the app, or prefork)."),
)

BY_NAME = {s.name: s for s in SETTINGS}


@dataclass
class Settings:
    """The effective settings (attribute per setting) and where the config came from."""
    values: dict
    config_file: str = None
    sources: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)  # ``SOURCE: what is odd`` lines that stop nothing

    def __getattr__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def name(self):
        return self.proc_name or self.app or "prefork"


class ConfigError(Exception):
    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = problems


# -- converting and checking values ------------------------------------------------------
def _convert(setting, value, from_text):
    """The value for ``setting``, or raises ValueError with what is wrong."""
    kind = setting.kind
    if kind == "list":
        if from_text:
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected a list of strings, got {value!r}")
        return value
    if kind in ("int", "float"):
        if from_text:
            try:
                value = int(value) if kind == "int" else float(value)
            except ValueError:
                raise ValueError(f"expected {'an integer' if kind == 'int' else 'a number'}, "
                                 f"got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (kind == "int" and not isinstance(value, int)):
            raise ValueError(f"expected {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
        if kind == "float" and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        if setting.minimum is not None and value < setting.minimum:
            raise ValueError(f"must be at least {setting.minimum}, got {value!r}")
        maximum = DURATION_MAX if kind == "float" and setting.maximum is None else setting.maximum
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum:g}, got {value!r}")
        return float(value) if kind == "float" else value
    if kind == "numbers":
        if from_text:
            value = [part.strip() for part in value.split(",")]
            try:
                value = [float(part) for part in value]
            except ValueError:
                raise ValueError(f"expected comma-separated numbers, got {','.join(value)!r}") from None
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  for v in value):
            raise ValueError(f"expected a list of numbers, got {value!r}")
        if not value:
            raise ValueError("expected at least one number")
        value = [float(v) for v in value]
        for v in value:
            if not 0 < v < float("inf"):
                raise ValueError(f"every bound must be a positive finite number, got {v!r}")
        for low, high in zip(value, value[1:]):
            if not low < high:
                raise ValueError(f"bounds must be strictly increasing, got {low!r} then {high!r}")
        return value
    if kind == "bool":
        if from_text:
            lowered = value.lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(f"expected true or false, got {value!r}")
            return lowered in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if kind == "octal":
        if isinstance(value, str):
            try:
                value = int(value, 8)
            except ValueError:
                raise ValueError(f"expected an octal mode such as \"0o022\", got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
            raise ValueError(f"expected a mode from 0o000 to 0o777, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    if kind == "choice" and value not in setting.choices:
        same = [choice for choice in setting.choices if choice.lower() == value.lower()]
        if not same:  # "DEBUG" as gunicorn takes it is debug
            raise ValueError(f"expected one of {', '.join(setting.choices)}, got {value!r}")
        value = same[0]
    return value


_BIND = re.compile(r"^(unix:.+|fd://\d+|\[[0-9a-fA-F:.]+\]:\d+|[^:\[\]]*:\d+)$")


def _check_bind(addresses):
    """Each address must be one the master can bind: IP literals valid, host names
    resolvable now (as the master will resolve them at start), ports in range."""
    for address in addresses:
        address = bind_address(address)
        if not _BIND.match(address):
            raise ValueError(f"{address}: expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N")
        if address.startswith("unix:"):
            directory = os.path.dirname(os.path.abspath(address[5:]))
            if not os.path.isdir(directory):
                raise ValueError(f"{address}: directory {directory} does not exist")
            continue
        if address.startswith("fd://"):
            continue
        host, _, port = address.rpartition(":")
        if int(port) > 65535:
            raise ValueError(f"{address}: port out of range (0 to 65535)")
        if host.startswith("["):
            try:
                socket.inet_pton(socket.AF_INET6, host[1:-1])
            except OSError:
                raise ValueError(f"{address}: {host[1:-1]} is not a valid IPv6 address") from None
        elif re.fullmatch(r"[0-9.]+", host):
            try:
                socket.inet_pton(socket.AF_INET, host)
            except OSError:
                raise ValueError(f"{address}: {host} is not a valid IPv4 address") from None
        elif host:
            try:
                socket.getaddrinfo(host, int(port), socket.AF_INET, socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ValueError(f"{address}: cannot resolve {host} to an IPv4 address ({reason})") from None


def _near(name, known):
    """`` (did you mean X?)`` for the known name closest to a mistyped one, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _check_parent(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"{path}: directory {directory} does not exist")


def _check_account(name, kind):
    """``user`` and ``group`` name an existing account (a number is taken as it is)."""
    if name.isdigit():
        return
    import grp
    import pwd
    try:
        (pwd.getpwnam if kind == "pwd" else grp.getgrnam)(name)
    except KeyError:
        raise ValueError(f"no {'user' if kind == 'pwd' else 'group'} named {name!r} on this host") from None


def _has_entry(uid):
    import pwd
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def _conflicts(values, sources):
    """Problems between settings: an address twice, metrics on a serving address."""
    def where(name):
        return sources[name] if sources[name] != "default" else "default:" + name
    problems = []
    if not values["bind"]:
        problems.append(f"{where('bind')}: expected at least one address")
    seen = set()
    for address in values["bind"]:
        plain = bind_address(address)
        if plain in seen and not plain.endswith(":0"):
            problems.append(f"{where('bind')}: {plain} is listed twice")
        seen.add(plain)
    user = values["user"]
    if user.isdigit() and not values["group"] and not _has_entry(int(user)):
        problems.append(f"{where('user')}: uid {user} has no passwd entry to take a group from: set group too")
    metrics = values["metrics_bind"]
    if metrics and metrics in seen and not metrics.endswith(":0"):
        problems.append(f"{where('metrics_bind')}: {metrics} is also a bind address (the operations "
                        f"endpoints need an address of their own)")
    return problems


def _check_dirs(paths):
    for path in paths:
        if not os.path.isdir(path):
            raise ValueError(f"{path}: not a directory")


def bind_address(address):
    """The address a ``bind`` entry names, without its ``http://``/``https://`` scheme."""
    for scheme in SCHEMES:
        if address.startswith(scheme):
            return address[len(scheme):]
    return address


def _check_tls(values, sources):
    """``SOURCE:KEY`` problems of the TLS settings, found by building the context the
    workers will build (files read, key matched to the certificate, password tried)."""
    bind = values["bind"]
    explicit = [a for a in bind if a.startswith("https://")]
    if not values["certfile"]:
        if explicit:
            return [f"{sources['bind'] if sources['bind'] != 'default' else 'default:bind'}: "
                    f"{explicit[0]}: https needs certfile"]
        return []
    from .net.tls import ContextError, build_context
    try:
        build_context(values)
    except ContextError as exc:
        key = exc.key
        source = sources.get(key, "default")
        return [f"{source if source != 'default' else 'default:' + key}: {exc}"]
    return []


def _check_app(app, chdir="", app_dir="", interface="auto"):
    """The app's module must be found where a worker will import it from (located,
    never imported: the master does not import the app)."""
    if not app:
        if interface == "asgi":
            raise ValueError("the demo app speaks events and WSGI; name an ASGI app (APP or app)")
        return
    from . import apps
    apps.locate(app, chdir, app_dir)


def load(config_file=None, env=None, argv_values=None):
    """Build Settings from the sources; raises ConfigError with every problem found."""
    env = os.environ if env is None else env
    argv_values = argv_values or {}
    problems = []
    values = {}
    sources = {}
    if config_file is None:
        config_file = argv_values.pop("config", None) or env.get("PREFORK_CONFIG") or None
    file_values = {}
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                file_values = tomllib.load(fh)
        except FileNotFoundError:
            problems.append(f"{config_file}: no such file")
        except OSError as exc:
            problems.append(f"{config_file}: cannot read: {exc.strerror}")
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{config_file}: not valid TOML: {exc}")
        except UnicodeDecodeError as exc:
            problems.append(f"{config_file}: not valid TOML: not UTF-8 text (byte {exc.start})")
        for key in file_values:
            if key not in BY_NAME and isinstance(file_values[key], dict):
                problems.append(f"{config_file}:{key}: unknown setting (a table: settings are top-level keys, "
                                f"written before any [table])")
            elif key not in BY_NAME:
                problems.append(f"{config_file}:{key}: unknown setting{_near(key, BY_NAME)}")
    warnings = []
    for name in env:
        if name.startswith("PREFORK_") and name[8:].lower() not in BY_NAME:
            close = difflib.get_close_matches(name[8:].lower(), list(BY_NAME), n=1, cutoff=0.8)
            if close:
                warnings.append(f"env:{name}: unknown setting, ignored (did you mean {BY_NAME[close[0]].env}?)")
    for setting in SETTINGS:
        name = setting.name
        if name in argv_values and argv_values[name] is not None:
            raw, source, from_text = argv_values[name], f"argv:{setting.flag}", isinstance(argv_values[name], str)
            if setting.kind == "list":
                from_text = False
        elif setting.env in env:
            raw, source, from_text = env[setting.env], f"env:{setting.env}", True
        elif name in file_values:
            raw, source, from_text = file_values[name], f"{config_file}:{name}", False
        elif name == "workers" and "WEB_CONCURRENCY" in env:  # the platform's hint, below ours
            raw, source, from_text = env["WEB_CONCURRENCY"], "env:WEB_CONCURRENCY", True
        else:
            values[name] = _cpus() if name == "workers" and setting.default is None else setting.default
            sources[name] = "default"
            continue
        try:
            value = _convert(setting, raw, from_text)
            if name == "bind":
                _check_bind(value)
            elif name == "metrics_bind" and value:
                if value.startswith("unix:"):
                    raise ValueError("expected HOST:PORT or fd://N")
                _check_bind([value])
            elif name in ("pidfile", "access_log", "error_log") and value not in ("", "-"):
                _check_parent(value)
            elif name == "user" and value:
                _check_account(value, "pwd")
            elif name == "group" and value:
                _check_account(value, "grp")
            elif name == "chdir" and value and not os.path.isdir(value):
                raise ValueError(f"{value}: no such directory")
            elif name == "access_log_format":
                _check_format(value)
            elif name in ("proxy_allow_ips", "forwarded_allow_ips"):
                _check_sources(value)
            elif name == "loop" and value == "uvloop" and importlib.util.find_spec("uvloop") is None:
                raise ValueError("uvloop is not installed (pip install 'prefork[uvloop]')")
            elif name == "reload" and value and importlib.util.find_spec("watchfiles") is None:
                raise ValueError("watchfiles is not installed (pip install 'prefork[reload]')")
            elif name == "reload_dirs":
                _check_dirs(value)
            elif name == "reload_include" and not value:
                raise ValueError("expected at least one file name pattern")
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
            continue
        values[name] = value
        sources[name] = source
    if "app" in values and "chdir" in values and "app_dir" in values:
        try:
            _check_app(values["app"], values["chdir"], values["app_dir"], values.get("interface"))
        except ValueError as exc:
            problems.append(f"{sources['app'] if values['app'] else sources['interface']}: {exc}")
    if values.get("reload") and sources.get("workers") == "default":
        values["workers"] = 1  # development: one worker reloads fastest; an explicit count is kept
    if not problems:
        problems.extend(_conflicts(values, sources))
    if not problems:
        bound = set(values["bind"])
        for address in values["proxy_protocol_bind"]:
            if address not in bound and not address.startswith("systemd:"):
                problems.append(f"{sources['proxy_protocol_bind']}: {address} is not one of the bind addresses")
    if not problems:
        h, r = values["headers_timeout"], values["request_timeout"]
        if h > 0 and r > 0 and h > r:
            problems.append(f"{sources['headers_timeout'] if sources['headers_timeout'] != 'default' else sources['request_timeout']}:"
                            f" headers_timeout ({h}) must not exceed request_timeout ({r})")
    if all(name in values for name in TLS_SETTINGS):
        problems.extend(_check_tls(values, sources))
    if problems:
        raise ConfigError(problems)
    return Settings(values, config_file, sources, warnings)


def _check_sources(entries):
    import ipaddress
    for entry in entries:
        if entry not in ("*", "unix"):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address, a network (CIDR), * or unix") from None


_FORMAT_FIELDS = {"h", "t", "r", "m", "U", "s", "b", "f", "a", "D", "L", "p"}


def _check_format(fmt):
    import string
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(fmt) if name is not None}
    except ValueError as exc:
        raise ValueError(f"not a valid format: {exc}") from None
    unknown = fields - _FORMAT_FIELDS
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join('{' + f + '}' for f in sorted(unknown))}")
    # each field as a worker passes it (text, or an int; {b} is either): a format spec
    # must fit every such value, or every request would fail to log
    for size in (512, "-"):
        sample = dict(_FORMAT_SAMPLES, b=size)
        try:
            fmt.format(**sample)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a valid format for its fields: {exc}") from None


_FORMAT_SAMPLES = {"h": "127.0.0.1", "t": "03/Dec/2026:10:00:00 +0000", "r": "GET / HTTP/1.1", "m": "GET",
                   "U": "/", "s": 200, "f": "-", "a": "-", "D": 1500, "L": "0.001500", "p": 1234}


# -- the documented default config file --------------------------------------------------
def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def render_config():
    lines = ["# prefork configuration. Every setting, its default and what it does.",
             "# Generated from prefork/settings.py: python -m prefork.settings > config/prefork.toml",
             "# Each can also be set with a command-line flag (--name-with-dashes) or an",
             "# environment variable (PREFORK_NAME); those win over this file.", ""]
    for setting in SETTINGS:
        lines.append(f"# {setting.doc}")
        reload_note = "applied on reload (HUP)" if setting.reloadable else "needs a restart or USR2"
        lines.append(f"# Flag {setting.flag}, env {setting.env}; {reload_note}.")
        if setting.kind == "octal":
            lines.append(f'{setting.name} = "0o{setting.default:03o}"')
        elif setting.default is None:
            lines.append(f"# {setting.name} = <{setting.default_doc}>")
        else:
            lines.append(f"{setting.name} = {toml_value(setting.default)}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_config(), end="")
