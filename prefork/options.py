"""Every setting, declared once: name, type, default, doc, reloadable, limits.

Rules:
- This table is the one place a setting exists. The command line (``cli.py``), the
  environment (``PREFORK_<NAME>``), the TOML file, ``check-config`` and the documented
  default file ``config/prefork.toml`` are all made from it
  (``python -m prefork.settings > config/prefork.toml``).
- Durations are seconds; every float setting is at most ``DURATION_MAX`` (the master's
  loop cannot sleep longer in one wait); ``workers`` is at most ``MAX_WORKERS``,
  ``threads`` at most ``MAX_THREADS``.
- A default computed at run time (``workers``) is declared as None with a
  ``default_doc`` saying what it becomes.
"""

import os
from dataclasses import dataclass

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
MAX_THREADS = 1024  # WSGI threads per worker: each is a real thread with its stack
CHECK_CONFIG_HELP = (  # prefork check-config --help: its description and epilog (cli.py)
    "Validate the configuration and print the effective settings as TOML, each with its source; "
    "starts nothing. It takes the same options and APP as the daemon and reads the file and the "
    "environment as the daemon would: every value's type and limits, the listen addresses (host names "
    "resolved, a UNIX socket's directory), the log and pidfile destinations, the combinations of "
    "settings, and that APP's module can be found (it is not imported).",
    "Exit status: 0 when the configuration is valid (the settings on stdout), 2 when it is not (every "
    "problem on its own line on stderr, as SOURCE:KEY: what is wrong), 3 when the app cannot be loaded, "
    "which only prefork --check-config (gunicorn's spelling) says: it also imports APP in a child process.")


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
    commas: bool = False  # a list whose entries may also come as one comma-separated string
    fallback: str = None  # what another server's variable makes the default, when it is set (--help says it)
    false_is_off: bool = False  # a text setting whose empty value turns a feature off also takes false

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    @property
    def env(self):
        return "PREFORK_" + self.name.upper()




def cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


SETTINGS = (
    Setting("bind", "list", ["127.0.0.1:8000"],
            "Addresses to listen on: HOST:PORT, [V6]:PORT, unix:PATH or fd://N (an inherited "
            "listening socket). A host name is bound to its IPv4 address, or its IPv6 one when "
            "it has none; an IPv6 address may name its zone ([fe80::1%eth0]:8000). [::]:PORT takes IPv4 "
            "clients too, unless an IPv4 address of the same port is also listed (0.0.0.0:PORT beside "
            "it): then it is IPv6-only. Sockets passed by systemd socket activation are used instead "
            "when present. A change needs a restart (or USR2). An address may start with "
            "https:// (TLS) or http:// (plain); one without is TLS when certfile is set.",
            reloadable=False, fallback="with the PORT variable set, as hosting platforms set it: 0.0.0.0:$PORT"),
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
            "empty: Python's ssl defaults (no SHA-1 suites; \"DEFAULT\" gives OpenSSL's). "
            "TLS 1.3 suites are OpenSSL's."),
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
            "Empty: the app's own directory: the folder of its module, or for a package found in the project's "
            "directory (the working directory, chdir or app_dir) that whole directory; an installed package "
            "alone.",
            reloadable=False),
    Setting("reload_include", "list", ["*.py"], "Development: file name patterns (shell globs) whose "
            "changes trigger a reload. Given, they replace *.py (uvicorn's and gunicorn's add to it): "
            "list *.py too to keep reloading on the app's code.", reloadable=False),
    Setting("root_path", "str", "", "WSGI and ASGI: the URL prefix the app is mounted at (SCRIPT_NAME, "
            "the scope's root_path).", fallback="with the SCRIPT_NAME variable set, as gunicorn reads it: its value"),
    Setting("wsgi_body_spool", "int", 1024 * 1024, "WSGI: request bodies up to this many bytes are "
            "kept in memory before the app is called; larger ones go to a temporary file.", minimum=0),
    Setting("max_body_size", "int", 100 * 1024 * 1024, "WSGI: larger request bodies get a 413 "
            "without calling the app.", minimum=0),
    Setting("threads", "int", 1, "WSGI: threads per worker that run the app. 1 runs one call at a "
            "time on the worker's loop; more run the app on a thread pool while the loop keeps the "
            "sockets (wsgi.multithread is then true). At most 1024.", minimum=1, maximum=MAX_THREADS),
    Setting("forwarded_allow_ips", "list", ["127.0.0.1", "::1", "unix"], "WSGI and ASGI: peers whose "
            "X-Forwarded-For and X-Forwarded-Proto headers are trusted: IP addresses, networks "
            "(10.0.0.0/8), unix (UNIX-socket peers: a proxy on this host, as gunicorn trusts them), or * for any; "
            "a flag or variable takes them all in one value, comma-separated (10.0.0.1,10.0.0.2), as gunicorn's "
            "flag does; the flag given twice takes its last value.", commas=True,
            fallback="with the FORWARDED_ALLOW_IPS variable set, as gunicorn and uvicorn read "
                     "it: its entries, and unix"),
    Setting("lifespan", "choice", "auto", "ASGI: the lifespan protocol. auto: used when the app speaks "
            "it; on: an app that does not is a failed boot; off: never sent.", choices=("auto", "on", "off")),
    Setting("startup_timeout", "float", 60.0, "Seconds an ASGI lifespan startup, or an events app's async "
            "setup(server), may await (the worker keeps its heartbeat meanwhile, so timeout does not apply to "
            "it); past it the boot fails. 0: no bound.", minimum=0),
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
    Setting("proxy_allow_ips", "list", ["127.0.0.1", "::1", "unix"], "Peers allowed to send a PROXY header: "
            "IP addresses, networks (10.0.0.0/8), unix (UNIX-socket peers: a balancer on this host), "
            "or * for any. Other peers of a PROXY "
            "listener are refused (closed and counted, never served). A flag or variable takes them all in "
            "one value, comma-separated; the flag given twice takes its last value.",
            commas=True),
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
    Setting("max_worker_memory", "int", 0, "Resident memory in MiB past which a worker is replaced: "
            "its replacement starts first, then it drains, as with max_requests (0: no limit). Read "
            "from /proc about once a second.", minimum=0),
    Setting("keep_alive_timeout", "float", 5.0, "Seconds an idle keep-alive connection is kept "
            "(closed at this + 1 s, as Node does); 0 turns keep-alive off: each response says "
            "Connection: close (as gunicorn's, uvicorn's and nginx's 0).", minimum=0),
    Setting("headers_timeout", "float", 60.0, "Seconds a client gets to send a request head "
            "(unset, at most request_timeout, as Node's).", minimum=0),
    Setting("request_timeout", "float", 300.0, "Seconds a client gets to send a whole request, "
            "its body included, however steadily it sends (Node's requestTimeout): raise it, or 0 "
            "for none, where clients upload large bodies slowly.", minimum=0),
    Setting("max_requests_per_socket", "int", 0, "Requests served on one connection; later "
            "ones get a 503 (0: unlimited).", minimum=0),
    Setting("max_connections", "int", 0, "Connections one worker holds at once; past it a new "
            "one is closed as soon as accepted (Node's server.maxConnections; gunicorn's "
            "worker_connections). 0: no limit.", minimum=0),
    Setting("max_header_size", "int", 16384, "Bytes of request target, header names and "
            "values a request head may hold.", minimum=1),
    Setting("max_headers_count", "int", 1000, "Header lines kept in req.headers (0: all).",
            minimum=0),
    Setting("connections_checking_interval", "float", 30.0, "Seconds between checks of "
            "headers_timeout and request_timeout.", minimum=0.01),
    Setting("metrics_bind", "str", "127.0.0.1:9464", "Where the master serves Prometheus metrics "
            "(HOST:PORT or fd://N, not a socket bind also uses: every socket systemd passes serves the "
            "app; path /metrics); empty disables metrics (also false in the configuration file; a "
            "flag or environment value of false is refused).", reloadable=False,
            false_is_off=True),
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
    Setting("unix_socket_mode", "octal", 0o666, "File mode of the UNIX sockets bind creates, whatever "
            "the umask: the default lets a proxy running as another user (nginx) connect; restrict "
            "it here or with the directory's permissions.", reloadable=False),
    Setting("log_level", "choice", "info", "Error log level.", choices=LOG_LEVELS),
    Setting("access_log", "str", "-", "Access log file; - is stderr, empty disables it (also false in the "
            "configuration file; a flag or environment value of false is refused: a file named false is ./false); "
            "/dev/stdout (/dev/stderr, /dev/fd/N) writes to the daemon's own descriptor.", false_is_off=True),
    Setting("access_log_format", "str", DEFAULT_ACCESS_FORMAT, "Access log line. Fields: "
            "{h} client address (X-Forwarded-For's from a trusted proxy, as a WSGI or ASGI app "
            "sees it), {t} time, {r} request line, {m} method, {U} URL, {s} status, "
            "{b} body bytes or -, {f} referer, {a} user agent, {D} duration in microseconds, "
            "{L} duration in seconds, {p} worker pid, {i[name]} a request header, {o[name]} a "
            "response header (any case; - when absent)."),
    Setting("access_log_flush", "float", 1.0, "Seconds access log lines may wait in a worker's "
            "buffer before they are written (also written at 512 lines, on USR1 and when the worker "
            "exits); a worker killed with SIGKILL loses at most this much, and at most 512 lines. "
            "0 writes every line at once.", minimum=0),
    Setting("error_log", "str", "-", "Error log file; - is stderr."),
    Setting("proc_name", "str", "", "Name shown in process titles (default: the app, or prefork)."),
)

BY_NAME = {s.name: s for s in SETTINGS}


# -- the documented default config file --------------------------------------------------
TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\t": "\t", "\n": "\\n", "\r": "\\r"}


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # a TOML basic string: control characters escaped (TOML allows no raw one)
        return '"' + "".join(TOML_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or c == "\x7f" else c)
                             for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def render_config():
    lines = ["# prefork configuration. Every setting, its default and what it does.",
             "# Generated from prefork/options.py: python -m prefork.settings > config/prefork.toml",
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
        elif setting.fallback:
            # commented out: a value here would win over the variable it falls back to
            lines.append(f"# {setting.name} = {toml_value(setting.default)}")
        else:
            lines.append(f"{setting.name} = {toml_value(setting.default)}")
        lines.append("")
    return "\n".join(lines)

