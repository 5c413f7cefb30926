"""The value of a gunicorn or uvicorn flag prefork names otherwise, in prefork's terms.

Rules:
- ``write(key, value)`` (``key`` as ``migration.key`` makes it): the prefork flag and
  value that does what the other server does with that flag and value, read as that
  server reads it (``-m 18`` is ``--umask 0o022``: gunicorn's umask is ``auto_int``,
  decimal unless it starts with 0; gunicorn's integers are Python's ``int()``, its
  ``cert_reqs`` ``int(value, 0)``; uvicorn's are click's ``INT``), with a note where the
  value means something else here; or None when there is no such flag and value (the
  value is one the other server refuses too, or has no equal): the hint then names the
  setting alone.
- ``SWITCHES``: the flags of those servers that take no value, so that the word after
  one is never taken for its value (``--no-access-log main:app``).
- ``file_line(key, value)``: the same for a key of a config file (gunicorn's, taken for
  TOML), as the TOML line to write (``access_log = "/dev/stdout"``), its note apart.
- ``value_hint(name, value)``: what to add to the problem of a value prefork refuses
  for its own setting when gunicorn or uvicorn means something by it (``timeout = 0``,
  ``proxy_protocol = "v2"``, ``log_level = "trace"``), or "".
- Nothing here reads a file or the environment: values in, text out.
"""

import shlex

SHORT = "ntugmpke"  # their short flags that take a value (gunicorn's -n -t -u -g -m -p -k -e)
SWITCHES = {"proxy_headers", "no_proxy_headers", "no_access_log"}
MAX_REQUEST_LINE, MAX_HEADERS, MAX_FIELD_SIZE = 8190, 32768, 8190  # gunicorn's http/message.py
CERT_REQS = {0: "none", 1: "optional", 2: "required"}  # ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED


def _int(value):
    """An integer as gunicorn's argparse ``type=int`` and uvicorn's click ``INT`` read
    it (Python's ``int()``, which takes a sign, spaces and ``_``); a negative one is
    refused by both (gunicorn's ``validate_pos_int``)."""
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def _auto_int(value):
    """gunicorn's ``auto_int`` (its umask): octal when it starts with 0 and a digit."""
    if len(value) > 1 and value[0] == "0" and value[1].isdigit():
        value = "0o" + value[1:]
    number = int(value, 0)
    if number < 0:
        raise ValueError(value)
    return number


def _same(setting):
    return lambda value: f"--{setting} {shlex.quote(value.strip())}"


def _number(setting, read=_int):
    return lambda value: f"--{setting} {read(value)}"


def _umask(value):
    mask = _auto_int(value)
    if mask > 0o777:
        raise ValueError(value)
    return f"--umask 0o{mask:03o}"


def gunicorn_umask(value):
    """The mask gunicorn's ``--umask`` makes of ``value`` (decimal unless it starts with
    0: ``18`` is 0o022), or None when it makes none."""
    try:
        mask = _auto_int(value.strip())
    except ValueError:
        return None
    return mask if mask <= 0o777 else None


def _timeout(value):
    seconds = _int(value)
    if seconds == 0:
        return ("--timeout 1000000 (gunicorn's 0, no limit, has no equal here: the heartbeat comes from the "
                "worker's loop, so only a handler that blocks the loop that long is stopped)")
    return f"--timeout {seconds}"


def _access_log(value):
    value = value.strip()
    if value == "-":
        return "--access-log /dev/stdout (gunicorn's - is stdout; - is stderr here)"
    return f"--access-log {shlex.quote(value)}"


def _access_format(value):
    from .gunicornlog import gunicorn_format

    translated, _ = gunicorn_format(value.strip())
    if translated is None:
        raise ValueError(value)
    return f"--access-log-format {shlex.quote(translated)}"


def _beside_default(bytes_of_one):
    """A head bound here that admits a part of ``bytes_of_one`` bytes (a request line, a
    field) beside what the default admits: prefork bounds the head as a whole, gunicorn
    each part."""
    from .options import BY_NAME

    default = BY_NAME["max_header_size"].default
    return (f"--max-header-size {bytes_of_one + default} (the whole head is bounded here: {bytes_of_one} bytes "
            f"beside the default {default})")


def _limit_line(value):
    line = _int(value)
    return _beside_default(1024 * 1024 if line == 0 else min(line, MAX_REQUEST_LINE))  # (0: its parser's 1 MiB)


def _limit_field_size(value):
    return _beside_default(_int(value) or MAX_FIELD_SIZE)


def _limit_fields(value):
    fields = _int(value)
    fields = MAX_HEADERS if fields == 0 or fields > MAX_HEADERS else fields
    return f"--max-headers-count {fields} (fields past it are not kept here, the request is still served)"


def _cert_reqs(read):
    def translate(value):
        return f"--verify-client {CERT_REQS[read(value)]}"  # (KeyError: a mode neither has)
    return translate


def _pythonpath(value):
    directories = [part.strip() for part in value.split(",") if part.strip()]
    if not directories:
        raise ValueError(value)
    rest = ":".join(directories[1:])
    return f"--app-dir {shlex.quote(directories[0])}" + (f" (and PYTHONPATH={shlex.quote(rest)})" if rest else "")


def _choice(setting, choices, notes=None):
    def translate(value):
        value = value.strip().lower()
        if notes and value in notes:
            return notes[value]
        if value not in choices:
            raise ValueError(value)
        return f"--{setting} {value}"
    return translate


def _log_level(value):
    level = {"warn": "warning"}.get(value.strip().lower(), value.strip().lower())
    if level not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError(value)
    return f"--log-level {level}"


TRANSLATE = {
    "accesslog": _access_log, "access_logfile": _access_log,
    "errorlog": _same("error-log"), "error_logfile": _same("error-log"), "log_file": _same("error-log"),
    "logfile": _same("error-log"),
    "loglevel": _log_level,
    "access_logformat": _access_format,
    "keepalive": _number("keep-alive-timeout"),
    "name": _same("proc-name"), "n": _same("proc-name"),
    "p": _same("pidfile"), "pid": _same("pidfile"),
    "t": _timeout,
    "u": _same("user"), "g": _same("group"),
    "m": _umask,
    "worker_connections": _number("max-connections"),
    "limit_request_line": _limit_line,
    "limit_request_field_size": _limit_field_size,
    "limit_request_fields": _limit_fields,
    "proxy_allow_from": _same("proxy-allow-ips"),
    "cert_reqs": _cert_reqs(lambda value: int(value, 0)),  # gunicorn's validate_pos_int on a string
    "wsgi_app": _same("app"),
    "pythonpath": _pythonpath,
    "asgi_loop": _choice("loop", ("asyncio", "uvloop"), {
        "auto": "--loop uvloop when uvloop is installed, else --loop asyncio (gunicorn's auto picks so)"}),
    "asgi_lifespan": _choice("lifespan", ("auto", "on", "off")),
    "websocket_max_message_size": _number("ws-max-size"),
    "reload_engine": lambda value: "--reload (the watcher is always watchfiles)" if value in (
        "auto", "poll", "inotify") else None,  # (gunicorn's reloader_engines, as written)
    # uvicorn
    "ssl_certfile": _same("certfile"), "ssl_keyfile": _same("keyfile"),
    "ssl_keyfile_password": _same("keyfile-password"), "ssl_ca_certs": _same("ca-certs"),
    "ssl_ciphers": _same("ciphers"),
    "ssl_cert_reqs": _cert_reqs(_int),
    "timeout_keep_alive": _number("keep-alive-timeout"),
    "timeout_graceful_shutdown": _number("graceful-timeout"),
    "limit_max_requests": _number("max-requests"),
    "limit_concurrency": _number("max-connections"),
    "limit_max_requests_jitter": _number("max-requests-jitter"),
    "h11_max_incomplete_event_size": _number("max-header-size"),
    "timeout_worker_healthcheck": _number("timeout"),
    "timeout_notify": _number("timeout"),
    "no_proxy_headers": lambda value: "--forwarded-allow-ips ''",
    "no_access_log": lambda value: "--access-log ''",
}


def attached_short(word):
    """Whether ``word`` is a short flag of theirs with its value attached (``-m022``, as
    gunicorn's argparse takes it)."""
    return word[:1] == "-" and word[1:2] != "-" and len(word) > 2 and "=" not in word[:3] and word[1:2] in SHORT


# the keys whose values the other server reads as integers (a config file's 5 is its "5")
NUMBERS = {"keepalive", "t", "m", "worker_connections", "limit_request_line", "limit_request_field_size",
           "limit_request_fields", "cert_reqs", "websocket_max_message_size", "ssl_cert_reqs", "timeout_keep_alive",
           "timeout_graceful_shutdown", "limit_max_requests", "limit_concurrency", "limit_max_requests_jitter",
           "h11_max_incomplete_event_size", "timeout_worker_healthcheck", "timeout_notify"}


def write(key, value):
    """``--umask 0o022`` for gunicorn's ``-m 18``: the flag and value to write here for
    the other server's flag ``key`` given ``value`` (None for a switch), or None."""
    translate = TRANSLATE.get(key)
    if translate is None or (value is None and key not in SWITCHES):
        return None
    try:
        return translate(value)
    except (ValueError, KeyError):
        return None


def file_line(key, value):
    """(``access_log = "/dev/stdout"``, its note or "") for the other server's file key
    ``key`` given ``value`` (a string or an integer), or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or isinstance(value, int) and key not in NUMBERS:
        return None  # (gunicorn's validate_string refuses a number)
    flag = write(key, str(value))
    if flag is None:
        return None
    flag, _, note = flag.partition(" (")
    from .checks import convert
    from .options import BY_NAME, toml_value

    try:
        words = shlex.split(flag)
        setting = BY_NAME[words[0][2:].replace("-", "_")]
        if len(words) == 1 and setting.kind == "bool":
            shown = "true"
        elif len(words) != 2:  # (a choice to make: the setting's hint)
            return None
        else:
            converted = convert(setting, words[1], from_text=True)
            shown = f'"0o{converted:03o}"' if setting.kind == "octal" else toml_value(converted)
    except (ValueError, KeyError, IndexError):
        return None
    return f"{setting.name} = {shown}", note[:-1]


# values gunicorn gives a meaning prefork does not: (setting, value) -> what to say
SPECIAL_VALUES = {
    ("timeout", 0): "gunicorn's 0 (no limit) has no equal here: the heartbeat comes from the worker's loop, so "
                    "only a handler that blocks the loop for that long is stopped; give up to 1000000",
    ("log_level", "trace"): "uvicorn's trace is debug here",
    ("log_level", "warn"): "write warning",
    ("loop", "auto"): "uvicorn's auto picks uvloop when it is installed: name asyncio or uvloop here",
    ("loop", "none"): "uvicorn's none is asyncio here",
    ("interface", "asgi3"): "uvicorn's asgi3 is asgi here; ASGI 2 apps are recognised too",
    ("interface", "asgi2"): "uvicorn's asgi2 is asgi here: ASGI 2 apps are recognised by themselves",
    **{("proxy_protocol", mode): f"gunicorn's {mode}: both versions are read here: write true" for mode in ("v1", "v2", "auto")},
}


def value_hint(name, value):
    """What to add to a value's problem when gunicorn means something by it (or "")."""
    note = SPECIAL_VALUES.get((name, value))
    return f" ({note})" if note else ""
