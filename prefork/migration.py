"""gunicorn's and uvicorn's names for things, and what prefork calls them.

Rules:
- One table, keyed by the other server's name in setting form (lower case, ``_`` for
  ``-``, a short flag by its letter): the prefork setting that does the same, or None
  with a note saying why there is none. ``cli.py`` uses it for flags argparse does not
  know (``flag_hints``: uvicorn's ``--host``/``--port``/``--uds``/``--fd`` get the
  ``--bind`` to write, their values in it (a flag given twice by its last value, as
  uvicorn and gunicorn take it; beside a TCP ``-b``, the part they leave out is its:
  ``-b :80 --host x`` is ``--bind x:80``); a renamed flag's hint writes its value as
  prefork takes it, read as the other server reads it (``flagvalues``: ``-m 18`` is
  ``--umask 0o022``), a short flag's attached value too (``-t30``); ``unrecognized`` lists a flag's value with
  it, not the app argparse put in its place; uvicorn's ``--factory`` names the app written
  as a call, ``main:create_app()``; ``check_config_after``: ``check-config`` written after
  the app is answered with the app, the one ``unrecognized`` lists, not a flag's value), ``settings.load`` for unknown keys of the TOML file and for gunicorn's and
  uvicorn's environment variables (a warning: they are ignored).
- A name prefork declares itself is never in the table (a test checks it), so a hint can
  never shadow a working setting.
- uvicorn's environment variables for settings prefork has under the same name are
  hinted as prefork's (``SAME_NAMES``), with a note where the value means something
  else (``SAME_NAMES_OTHER_VALUES``: uvicorn's ``access_log`` is a switch, prefork's a path).
- A gunicorn access log format is translated for the refusal's advice
  (gunicornlog.py); the atoms without a prefork field are named.
- The flags of ``GUNICORN_CMD_ARGS`` prefork takes are listed with their values, a bind
  address in prefork's spelling of what gunicorn binds (``gunicorn_bind``).
- Nothing is translated silently: an operator's file or command line is refused with
  the name to use, because the meanings are close, not equal.
"""

import re
import shlex

from . import flagvalues, gunicornlog

WORKER_CLASS = ("prefork has no worker classes: it recognises WSGI and ASGI apps by themselves (interface), "
                "and threads gives a WSGI app a thread pool")
NO_DAEMON = ("prefork stays in the foreground: run it under systemd (systemd/prefork.service) or a "
             "container runtime")
PRELOAD = "the master never imports the app: each worker imports it"
BIND = "as HOST:PORT"
METRICS = "metrics are Prometheus's, served by the master on metrics_bind"
NO_SYSLOG = "no syslog: the logs go to stderr (the journal under systemd) or to files"
LOGGING = "prefork's logging is set by log_level, error_log and access_log"
STDIO = ("a worker writes the app's output where the daemon's own goes (stderr is the error log when that is "
         "a file)")
PASTE = "PasteDeploy files are not read: name the app as module:attribute"
HTTP11 = "prefork speaks HTTP/1.1 only (TLS's ALPN offers http/1.1)"
PARSER = "the parser is always httptools (llhttp), with Node's rules (docs/parser-notes.md)"
DIRTY = "prefork has no pool of dirty workers: run long jobs on a thread pool or a service of their own"
CONTROL = "the master is driven by signals (docs/SIGNALS.md) and observed on metrics_bind (/status.json)"

# name -> (origin, prefork setting or None, note); an origin of both is "gunicorn and uvicorn"
NAMES = {
    # gunicorn
    "k": ("gunicorn", None, WORKER_CLASS),
    "worker_class": ("gunicorn", None, WORKER_CLASS),
    "accesslog": ("gunicorn", "access_log", "'-' means stderr here, gunicorn's means stdout: write /dev/stdout for stdout"),
    "access_logfile": ("gunicorn", "access_log", "'-' means stderr here, gunicorn's means stdout: write /dev/stdout for stdout"),
    "errorlog": ("gunicorn", "error_log", ""),
    "error_logfile": ("gunicorn", "error_log", ""),
    "log_file": ("gunicorn", "error_log", ""),
    "logfile": ("gunicorn", "error_log", "gunicorn's --log-file"),
    "debug": ("gunicorn", None, "an old switch of gunicorn and uvicorn: set log_level to debug here (and reload, "
                                "to reload on code changes)"),
    "loglevel": ("gunicorn", "log_level", ""),
    "access_logformat": ("gunicorn", "access_log_format", "its fields are written {h}, not %(h)s"),
    "keepalive": ("gunicorn", "keep_alive_timeout", ""),
    "name": ("gunicorn", "proc_name", ""),
    "n": ("gunicorn", "proc_name", ""),
    "p": ("gunicorn", "pidfile", ""),
    "pid": ("gunicorn", "pidfile", ""),
    "t": ("gunicorn", "timeout", ""),
    "u": ("gunicorn", "user", ""),
    "g": ("gunicorn", "group", ""),
    "m": ("gunicorn", "umask", ""),
    "preload": ("gunicorn", None, PRELOAD),
    "preload_app": ("gunicorn", None, PRELOAD),
    "daemon": ("gunicorn", None, NO_DAEMON),
    "D": ("gunicorn", None, NO_DAEMON),
    "worker_connections": ("gunicorn", "max_connections", "connections past it are closed as soon as accepted"),
    "limit_request_line": ("gunicorn", "max_header_size", "it bounds the request target with the header fields"),
    "limit_request_field_size": ("gunicorn", "max_header_size", ""),
    "limit_request_fields": ("gunicorn", "max_headers_count", "fields past it are not kept, the request is "
                                                             "still served"),
    "reload_extra_file": ("gunicorn", "reload_include", "file name patterns"),
    "statsd_host": ("gunicorn", None, "metrics are Prometheus's, served by the master on metrics_bind"),
    "proxy_allow_from": ("gunicorn", "proxy_allow_ips", ""),
    "ssl_version": ("gunicorn and uvicorn", "tls_min_version", ""),
    "cert_reqs": ("gunicorn", "verify_client", ""),
    "e": ("gunicorn", None, "set the variables in prefork's own environment; settings are PREFORK_<NAME> variables"),
    "env": ("gunicorn", None, "set the variables in prefork's own environment; settings are PREFORK_<NAME> "
                              "variables"),
    "capture_output": ("gunicorn", None, "a worker writes the app's output where the daemon's own goes "
                                         "(stderr is the error log when that is a file)"),
    "v": ("gunicorn", None, "prefork's version is --version"),
    "worker_tmp_dir": ("gunicorn", None, "workers report to the master over a socketpair, not through a "
                                         "temporary file: nothing to set"),
    "log_config": ("gunicorn and uvicorn", None, LOGGING),
    "logconfig_dict": ("gunicorn", None, "prefork's logging is set by log_level, error_log and access_log"),
    "logconfig": ("gunicorn", None, "prefork's logging is set by log_level, error_log and access_log"),
    "wsgi_app": ("gunicorn", "app", ""),
    "pythonpath": ("gunicorn", "app_dir", "one directory, put first on the Python path; more go in PYTHONPATH"),
    "raw_env": ("gunicorn", None, "set the variables in prefork's own environment; settings are PREFORK_<NAME> "
                                  "variables"),
    "reload_extra_files": ("gunicorn", "reload_include", "file name patterns"),
    "reuse_port": ("gunicorn", None, "the master opens each address once and its workers share the socket"),
    "secure_scheme_headers": ("gunicorn", "forwarded_allow_ips", "X-Forwarded-Proto and X-Forwarded-For are "
                                                                 "read from those peers"),
    "forwarder_headers": ("gunicorn", "root_path", "a proxy's SCRIPT_NAME field is not read (a field name with _ is "
                                                   "dropped): the mount point is root_path"),
    "log_syslog": ("gunicorn", None, "no syslog: the logs go to stderr (the journal under systemd) or to files"),
    "syslog": ("gunicorn", None, "no syslog: the logs go to stderr (the journal under systemd) or to files"),
    "paste": ("gunicorn", None, "PasteDeploy files are not read: name the app as module:attribute"),
    "asgi_loop": ("gunicorn", "loop", ""),
    "asgi_lifespan": ("gunicorn", "lifespan", ""),
    "websocket_max_message_size": ("gunicorn", "ws_max_size", ""),
    "statsd_prefix": ("gunicorn", None, METRICS),
    "dogstatsd_tags": ("gunicorn", None, METRICS),
    "enable_backlog_metric": ("gunicorn", None, METRICS),
    "log_syslog_to": ("gunicorn", None, NO_SYSLOG),
    "syslog_addr": ("gunicorn", None, NO_SYSLOG),
    "log_syslog_prefix": ("gunicorn", None, NO_SYSLOG),
    "syslog_prefix": ("gunicorn", None, NO_SYSLOG),
    "log_syslog_facility": ("gunicorn", None, NO_SYSLOG),
    "syslog_facility": ("gunicorn", None, NO_SYSLOG),
    "disable_redirect_access_to_syslog": ("gunicorn", None, NO_SYSLOG),
    "log_config_json": ("gunicorn", None, LOGGING),
    "logconfig_json": ("gunicorn", None, LOGGING),
    "logger_class": ("gunicorn", None, LOGGING),
    "R": ("gunicorn", None, STDIO),
    "enable_stdio_inheritance": ("gunicorn", None, STDIO),
    "sendfile": ("gunicorn", None, "no switch: docs/wsgi.md says when wsgi.file_wrapper is sent with sendfile"),
    "no_sendfile": ("gunicorn", None, "no switch: docs/wsgi.md says when wsgi.file_wrapper is sent with sendfile"),
    "initgroups": ("gunicorn", None, "a user without group takes that user's groups; a group given is the only one"),
    "spew": ("gunicorn", None, "no tracing switch"),
    "reload_engine": ("gunicorn", "reload", "the watcher is always watchfiles"),
    "paster": ("gunicorn", None, PASTE),
    "paste_global": ("gunicorn", None, PASTE),
    "raw_paste_global_conf": ("gunicorn", None, PASTE),
    "protocol": ("gunicorn", None, HTTP11),
    "uwsgi_allow_from": ("gunicorn", None, HTTP11),
    "uwsgi_allow_ips": ("gunicorn", None, HTTP11),
    "http_protocols": ("gunicorn", None, HTTP11),
    "http2_cleartext": ("gunicorn", None, HTTP11),
    "http2_max_concurrent_streams": ("gunicorn", None, HTTP11),
    "http2_initial_window_size": ("gunicorn", None, HTTP11),
    "http2_max_frame_size": ("gunicorn", None, HTTP11),
    "http2_max_header_list_size": ("gunicorn", None, HTTP11),
    "suppress_ragged_eofs": ("gunicorn", None, "the workers' TLS has no such switch: nothing to set"),
    "do_handshake_on_connect": ("gunicorn", None, "the workers' TLS has no such switch: nothing to set"),
    "permit_obsolete_folding": ("gunicorn", None, PARSER),
    "strip_header_spaces": ("gunicorn", None, PARSER),
    "permit_unconventional_http_method": ("gunicorn", None, PARSER),
    "permit_unconventional_http_version": ("gunicorn", None, PARSER),
    "casefold_http_method": ("gunicorn", None, PARSER),
    "http_parser": ("gunicorn", None, PARSER),
    "header_map": ("gunicorn", None, "a WSGI app never sees a header name with _: they are dropped (gunicorn's "
                                     "default, drop)"),
    "asgi_disconnect_grace_period": ("gunicorn", None, "no such setting here"),
    "dirty_app": ("gunicorn", None, DIRTY),
    "dirty_apps": ("gunicorn", None, DIRTY),
    "dirty_workers": ("gunicorn", None, DIRTY),
    "dirty_timeout": ("gunicorn", None, DIRTY),
    "dirty_threads": ("gunicorn", None, DIRTY),
    "dirty_graceful_timeout": ("gunicorn", None, DIRTY),
    "tmp_upload_dir": ("gunicorn", None, "a WSGI body past wsgi_body_spool goes to a temporary file, where "
                                         "TMPDIR says"),
    "control_socket": ("gunicorn", None, CONTROL),
    "control_socket_mode": ("gunicorn", None, CONTROL),
    "no_control_socket": ("gunicorn", None, CONTROL),
    "control_socket_disable": ("gunicorn", None, CONTROL),
    # uvicorn
    "host": ("uvicorn", "bind", BIND),
    "port": ("uvicorn", "bind", BIND),
    "uds": ("uvicorn", "bind", "as unix:PATH"),
    "fd": ("uvicorn", "bind", "as fd://N"),
    "ssl_certfile": ("uvicorn", "certfile", ""),
    "ssl_keyfile": ("uvicorn", "keyfile", ""),
    "ssl_keyfile_password": ("uvicorn", "keyfile_password", ""),
    "ssl_ca_certs": ("uvicorn", "ca_certs", ""),
    "ssl_ciphers": ("uvicorn", "ciphers", ""),
    "ssl_cert_reqs": ("uvicorn", "verify_client", ""),
    "timeout_keep_alive": ("uvicorn", "keep_alive_timeout", ""),
    "timeout_graceful_shutdown": ("uvicorn", "graceful_timeout", ""),
    "limit_max_requests": ("uvicorn", "max_requests", ""),
    "limit_concurrency": ("uvicorn", "max_connections", "connections past it are closed as soon as accepted "
                                                         "(uvicorn answers them 503)"),
    "proxy_headers": ("uvicorn", "forwarded_allow_ips", "forwarded headers are honoured from those peers"),
    "no_proxy_headers": ("uvicorn", "forwarded_allow_ips", "an empty list trusts no peer's forwarded headers"),
    "no_access_log": ("uvicorn", "access_log", "set it empty: it takes the log's path"),
    "env_file": ("uvicorn", None, "settings are read from the TOML file (config) and PREFORK_<NAME> variables"),
    "factory": ("uvicorn", None, "write APP as module:create_app() (with its arguments, if any): the worker calls the factory"),
    "http": ("uvicorn", None, "the parser is always httptools (llhttp)"),
    "ws": ("uvicorn", None, "WebSockets are always served with wsproto"),
    "h11_max_incomplete_event_size": ("uvicorn", "max_header_size", ""),
    "header": ("uvicorn", None, "set response headers in the app (or a middleware)"),
    "server_header": ("uvicorn", None, "prefork sends no Server header"),
    "no_server_header": ("uvicorn", None, "prefork sends no Server header"),
    "date_header": ("uvicorn", None, "prefork sends the Date header"),
    "no_date_header": ("uvicorn", None, "prefork sends the Date header"),
    "limit_max_requests_jitter": ("uvicorn", "max_requests_jitter", ""),
    "reload_exclude": ("uvicorn", "reload_include", "the patterns of the files that trigger a reload"),
    "reload_delay": ("uvicorn", None, "a reload starts when watchfiles reports a change"),
    "use_colors": ("uvicorn", None, "the logs are plain text"),
    "no_use_colors": ("uvicorn", None, "the logs are plain text"),
    "timeout_worker_healthcheck": ("uvicorn", "timeout", "a worker without a heartbeat that long is replaced"),
    "http2": ("uvicorn", None, HTTP11),
    "headers": ("uvicorn", None, "set response headers in the app (or a middleware)"),
    "reload_includes": ("uvicorn", "reload_include", "the patterns replace *.py here: list *.py too"),
    "reload_excludes": ("uvicorn", "reload_include", "the patterns of the files that trigger a reload"),
    "reset_contextvars": ("uvicorn", None, "no such setting here"),
    "ws_max_queue": ("uvicorn", None, "no such setting here"),
    "timeout_notify": ("uvicorn", "timeout", "the master checks each worker's heartbeat; a worker silent "
                                             "that long is replaced"),
}


def key(name):
    """The table's key for a flag (``--access-logfile``, ``-k``) or a file key; a short
    flag keeps its case (gunicorn's ``-R`` is not ``-r``)."""
    return name.lstrip("-").replace("-", "_").lower() if name.startswith("--") or len(name) > 2 else \
        name.lstrip("-")


def hint(name, flag_form):
    """``--error-logfile is gunicorn's: use --error-log here``, or None for a name
    neither server uses. ``flag_form`` writes prefork's setting as a flag."""
    entry = NAMES.get(key(name))
    if entry is None and key(name).startswith("no_"):  # the off form of a boolean (--no-preload)
        entry = NAMES.get(key(name)[3:])
    if entry is None:
        return None
    origin, setting, note = whose(entry[0]), entry[1], entry[2]
    if setting is None:
        return f"{name} is {origin}: {note}"
    shown = "--" + setting.replace("_", "-") if flag_form else setting
    return f"{name} is {origin}: use {shown} here" + (f" ({note})" if note else "")


def whose(origin):
    """``gunicorn's``, or ``gunicorn's and uvicorn's`` for a name both use."""
    return " and ".join(f"{server}'s" for server in origin.split(" and "))


def flag_hints(argv, flags, near, app=None):
    """The lines under the refusal of ``flags`` (argparse did not know them), one a flag:
    its hint, else ``near(flag)`` (a near miss), else none. uvicorn's ``--host``/``--port``,
    ``--uds`` and ``--fd`` are answered with the ``--bind`` to write, their values in it;
    its ``--factory`` with the app written as a call (``app``: the app argparse found)."""
    values = {}
    for i, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if flag[:1] == "-" and len(flag) > 1:  # a flag given again: its last value counts, as uvicorn's
            following = argv[i + 1] if i + 1 < len(argv) and (argv[i + 1][:1] != "-" or argv[i + 1] == "-") else None
            values[flag] = value if eq else None if key(flag) in flagvalues.SWITCHES else following
            if flagvalues.attached_short(arg):  # gunicorn's -t30, -m022
                values[arg[:2]] = arg[2:]
    binds = [(arg[:2], arg[2:]) if arg[:2] == "-b" and len(arg) > 2 else arg.split("=", 1) if "=" in arg
             else (arg, argv[i + 1] if i + 1 < len(argv) else "")
             for i, arg in enumerate(argv) if arg in ("-b", "--bind") or arg[:2] == "-b" or arg[:7] == "--bind="]
    binds = [(flag, value) for flag, value in binds if _host_port(value)]
    lines = []
    for flag in flags:
        flag = flag[:2] if flagvalues.attached_short(flag) else flag
        line = _bind_hint(flag, values, binds[-1] if binds else None) or _factory_hint(flag, (values.get(flag), app)) \
            or _value_hint(flag, values) or hint(flag, flag_form=True) or near(flag)
        if line and line not in lines:
            lines.append(line)
    return lines


def _factory_hint(flag, words):
    """``--factory is uvicorn's: write main:create_app() here``: uvicorn's ``--factory
    main:create_app`` calls ``create_app()``, which prefork's APP writes as the call; the
    app is the first of ``words`` (the flag's next word, argparse's app) written so."""
    app = next((word for word in words if word and re.fullmatch(r"[\w.]+:[\w.]+", word)), None)
    if key(flag) != "factory" or app is None:
        return None
    return f"{flag} is uvicorn's: write the app as {app}() here (the worker calls the factory and serves what it returns)"


def _value_hint(flag, values):
    """``-m 18 is gunicorn's: write --umask 0o022 here``: a renamed flag with the value
    it was given, written as prefork takes it (``flagvalues``), or None."""
    entry = NAMES.get(key(flag))
    if entry is None or entry[1] is None:
        return None
    written = flagvalues.write(key(flag), values.get(flag))
    if written is None:
        return None
    origin, _, note = entry
    written, _, own_note = written.partition(" (")  # a note of the value's own, else the setting's
    note = own_note[:-1] or note
    given = flag if key(flag) in flagvalues.SWITCHES else f"{flag} {shlex.quote(values[flag])}"
    return f"{given} is {whose(origin)}: write {written} here" + (f" ({note})" if note else "")


def unrecognized(argv, unknown, app, hints):
    """The words of ``unknown`` as the refusal lists them, then the ``hints``, one a line
    (``flag_hints``). argparse takes the first bare word for the app: when that word
    follows an unknown flag and a bare word that follows none is left over
    (``-k uvicorn.workers.UvicornWorker main:app``), the first was the flag's value and the
    one left over is the app: listed so, not as ``-k main:app``."""
    words = list(unknown)
    flag_value, left_over = _app_taken(argv, unknown, app)
    if flag_value is not None and left_over is not None:
        words.remove(left_over)
        words.insert(words.index(argv[flag_value - 1]) + 1, app)
    return " ".join(words) + "".join(f"\n  {line}" for line in hints)


def check_config_after(argv, unknown, app):
    """``check-config takes the app's place: ...`` (a list of that line, or empty) when
    ``check-config`` was written after the app, where argparse cannot take it; the app is
    argparse's, or the bare word left over when argparse took an unknown flag's value for
    it (``-k x main:app check-config``: main:app)."""
    if "check-config" not in unknown:
        return []
    flag_value, left_over = _app_taken(argv, unknown, app, besides=("check-config",))
    app = left_over if flag_value is not None and left_over is not None else app
    return [f"check-config takes the app's place: prefork check-config {app or 'APP'} [options]"]


def _app_taken(argv, unknown, app, besides=()):
    """(the index in ``argv`` of ``app`` when it follows an unknown flag, or None; the first
    bare word of ``unknown`` that follows none and is not in ``besides``, or None)."""
    def after_unknown_flag(i):
        return i > 0 and argv[i - 1] in unknown and argv[i - 1][:1] == "-" and "=" not in argv[i - 1]
    flag_value = next((i for i, word in enumerate(argv) if word == app and after_unknown_flag(i)), None)
    left_over = next((word for i, word in enumerate(argv) if word in unknown and word[:1] != "-"
                      and word not in besides and not after_unknown_flag(i)), None)
    return flag_value, left_over


def _host_port(address):
    """(host, port) of a TCP bind address given with ``-b`` (``:80``: no host, as gunicorn
    writes all interfaces), or None (a UNIX socket, a descriptor, no port)."""
    found = re.fullmatch(r"(?:https?://|tcp://)?(\[[^\]]*\]|[^:\[\]/]*):(\d+)", address, re.ASCII)
    return found.groups() if found else None


def _bind_hint(flag, values, bind=None):
    """``--host 0.0.0.0 --port 9000 are uvicorn's: write --bind 0.0.0.0:9000 here``, or None
    (a value that is no host, port or descriptor is the app's: the generic hint then).
    With a TCP ``bind`` given too (``-b :80 --host x``), the part --host or --port leaves
    out is that bind's, not uvicorn's default: ``write --bind x:80 in place of -b :80``."""
    values = {name: value for name, value in values.items() if value is not None and re.fullmatch(
        {"--port": r"\d+", "--fd": r"\d+", "--host": r"[\w.-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%\w+)?"}.get(name, ".+"),
        value, re.ASCII)}
    if flag in ("--host", "--port") and (values.get("--host") or values.get("--port")):
        bound_host, bound_port = _host_port(bind[1]) if bind else ("127.0.0.1", "8000")  # uvicorn's defaults
        host, port = values.get("--host"), values.get("--port") or bound_port
        host = (f"[{host}]" if ":" in host else host) if host else bound_host
        given = " ".join(f"{name} {values[name]}" for name in ("--host", "--port") if values.get(name))
        instead = f", in place of {bind[0]} {bind[1]}" if bind else ""
        return f"{given} {'are' if ' --' in given else 'is'} uvicorn's: write --bind {host}:{port} here{instead}"
    if flag in ("--uds", "--fd") and values.get(flag):
        return f"{flag} {values[flag]} is uvicorn's: write --bind {'unix:' if flag == '--uds' else 'fd://'}" \
               f"{values[flag]} here"
    return None


# the file gunicorn reads from the working directory when no config is named
GUNICORN_CONFIG = "gunicorn.conf.py"
GUNICORN_CONFIG_NOTE = ("gunicorn's config file, not read: prefork reads only the TOML file named by --config "
                        "or PREFORK_CONFIG (docs/gunicorn.md)")


def env_hint(variable, value=""):
    """What to say of gunicorn's or uvicorn's environment variable: prefork ignores it.
    For ``GUNICORN_CMD_ARGS`` (``value``), the flags to give prefork, and the hint of
    each flag of gunicorn's that prefork spells otherwise or has not."""
    if variable == "GUNICORN_CMD_ARGS":
        try:
            words = shlex.split(value)
        except ValueError:
            words = value.split()
        flags = [word.split("=", 1)[0] for word in words if word[:1] == "-" and len(word) > 1]
        hinted = flag_hints(words, flags, lambda flag: None)
        theirs = {flag for flag in flags if hint(flag[:2] if flagvalues.attached_short(flag) else flag, flag_form=True)}
        kept, skip, bind_value = [], False, False
        for word in words:  # the words of the flags prefork takes as they are, values too
            is_flag = word[:1] == "-" and len(word) > 1
            if is_flag:
                skip = word.split("=", 1)[0] in theirs
                flag, eq, value = word.partition("=")
                if flag in ("-b", "--bind") and eq:
                    word = f"{flag}={gunicorn_bind(value)}"
            elif bind_value:
                word = gunicorn_bind(word)
            bind_value = is_flag and word in ("-b", "--bind")
            if not skip:
                kept.append(shlex.quote(word))
        given = f" ({' '.join(kept)})" if kept else ""
        return (f"gunicorn's, ignored: give prefork the flags{given}, or PREFORK_<NAME> variables"
                + "".join(f"; {line}" for line in hinted))
    name = variable[len("UVICORN_"):].lower()
    entry = NAMES.get(name)
    setting = entry[1] if entry else (name if name in SAME_NAMES or name in SAME_NAMES_OTHER_VALUES else None)
    use = f"PREFORK_{setting.upper()}" if setting else "PREFORK_<NAME> variables"
    note = SAME_NAMES_OTHER_VALUES.get(name)
    return f"uvicorn's, ignored: use {use}" + (f" ({note})" if note else "")


def gunicorn_bind(address):
    """A gunicorn bind address in prefork's spelling, as gunicorn reads it: ``tcp://``
    dropped, ``unix://PATH`` is PATH, a host without a port is on gunicorn's 8000;
    anything else as it is (prefork's own check says what is wrong with it)."""
    if address.startswith("unix:"):
        return "unix:" + re.split(r"unix:(//)?", address)[-1]
    if address.startswith("tcp://"):
        address = address[len("tcp://"):]
    if address.startswith("[") and address.endswith("]"):
        return f"{address}:8000"
    if address and ":" not in address and "[" not in address and not address.isdigit():
        return f"{address}:8000"
    return address


# uvicorn settings prefork has under the same name
SAME_NAMES = {"workers", "reload", "reload_dirs", "reload_include", "root_path", "loop", "lifespan",
              "ws_max_size", "ws_ping_interval", "ws_ping_timeout", "ws_per_message_deflate", "log_level",
              "forwarded_allow_ips", "backlog", "app_dir", "interface"}
# uvicorn settings prefork has under the same name but whose values mean something else
ACCESS_LOG_SWITCH = ("uvicorn's access_log is an on/off switch, prefork's is where the lines go: - (stderr) or a "
                     "file's path; an empty value turns it off")
SAME_NAMES_OTHER_VALUES = {"access_log": ACCESS_LOG_SWITCH}


# (the access log format's translation lives in gunicornlog.py)
gunicorn_format = gunicornlog.gunicorn_format
