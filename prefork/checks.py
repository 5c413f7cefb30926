"""Converting a setting's raw value (TOML value or text) and checking it against the host.

Rules:
- Each function raises ValueError with what is wrong, in words an operator can act on (``settings.load``
  puts ``SOURCE:KEY: `` in front); none of them stops at a first problem on behalf of another setting.
- Checks go as far as they can without binding or importing: IP literals parsed, host
  names resolved, a UNIX socket's directory present, the app's module located (never
  imported), accounts and directories looked up, TLS files loaded into a context as a
  worker would, a log FIFO opened (its write end then held: see logfiles.py), a log
  file or pidfile writable where it is (or made in its directory) by this process
  (``os.access``: nothing is created), as the start would open it (``pathcheck.py``).
- No text value may hold a NUL character (a TOML ``"\\u0000"``): no path, name or
  address the system is given can hold one, so it is refused here, for every text
  setting and every list entry alike, rather than failing where it is used.
- A UNIX socket's path fits ``sun_path`` (``UNIX_PATH_MAX`` bytes): check-config, and
  so a USR2, would otherwise pass a ``bind`` the master then cannot open. The bind
  addresses' checks are ``bindcheck.py``'s.
- ``user`` and ``group`` other than the process's own need root: a master started by
  another user is refused them, rather than running its workers as itself.
- ``user`` and ``group`` are names or ids: a TOML integer (``user = 1000``, as a
  gunicorn.conf.py writes it) is the id, as its digits are.
- Numbers the system takes within bounds are checked against them: an ``fd://N``
  descriptor (at most ``bindcheck.FD_MAX``), a numeric ``user`` or ``group`` id (at most
  ``ID_MAX``: ``(uid_t) -1`` means "no change" to setuid(2)).
- An access log format written with gunicorn's ``%(x)s`` fields is refused with the
  same format in prefork's ``{x}`` fields where each has a counterpart, else with the
  atoms that have none: accepted, it would print its placeholders on every line.
- A trusted network with host bits set (``10.0.0.1/24``) is refused, naming the network
  and the address: gunicorn refuses it too, uvicorn trusts no peer by it.
"""

import datetime
import importlib.util
import math
import os
import re

from . import logfiles
from .bindcheck import bind_address, check_bind, check_written, overlapping
from .pathcheck import check_dirs, check_parent, is_null_device, not_a_directory
from .logformat import FIELDS, HEADER_SAMPLES, parse_format
from .master.pidfile import not_a_pidfile
from .options import DURATION_MAX

ID_MAX = 2 ** 32 - 2  # uid_t and gid_t are 32 bits; 2**32 - 1 is -1, "no change"
NUL = "\0"


BOOL_WORDS = ("1", "true", "yes", "on", "0", "false", "no", "off")  # a flag's or variable's true, then false


def toml_spelling(value):
    """A value as it is shown back: a boolean as TOML writes it (``true``), in a list or
    table too, a date or time as TOML writes it (``1979-05-27``), else its ``repr``."""
    if isinstance(value, (datetime.date, datetime.time)):  # (a datetime is a date)
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_spelling(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {toml_spelling(item)}" for key, item in value.items()) + "}"
    return repr(value)


def _no_nul(value):
    if NUL in value:
        raise ValueError(f"must not contain a NUL character (\\u0000), at offset {value.index(NUL)}")

def convert(setting, value, from_text):
    """The value for ``setting``, or raises ValueError with what is wrong."""
    kind = setting.kind
    if kind == "list":
        if from_text:
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected a list of strings, got {toml_spelling(value)}")
        for entry in value:
            _no_nul(entry)
        if setting.commas:  # "10.0.0.1,10.0.0.2" as one flag or file value, as gunicorn's
            value = [part.strip() for entry in value for part in entry.split(",") if part.strip()]
        return [entry for entry in value if entry.strip()]  # "" (--reload-include '') is no entry
    if kind in ("int", "float"):
        given = value  # (text is shown as it was written: 1e400 is no "inf")
        if from_text:
            try:
                if not value.isascii():  # int() and float() read any script's digits ("٣")
                    raise ValueError(value)
                value = int(value) if kind == "int" else float(value)
            except ValueError:
                raise ValueError(f"expected {'an integer' if kind == 'int' else 'a number'}, got {toml_spelling(value)}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (kind == "int" and not isinstance(value, int)):
            raise ValueError(f"expected {'an integer' if kind == 'int' else 'a number'}, got {toml_spelling(value)}")
        if kind == "float" and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {given if from_text else toml_spelling(value)}")
        if setting.minimum is not None and value < setting.minimum:
            from .flagvalues import value_hint
            raise ValueError(f"must be at least {setting.minimum}, got {toml_spelling(value)}{value_hint(setting.name, value)}")
        maximum = DURATION_MAX if kind == "float" and setting.maximum is None else setting.maximum
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum:,.0f}".replace(",", "") + f", got {toml_spelling(value)}"
                             if maximum == int(maximum) else f"must be at most {maximum:g}, got {toml_spelling(value)}")
        return float(value) if kind == "float" else value
    if kind == "numbers":
        given = None
        if from_text:
            value = given = [part.strip() for part in value.split(",")]
            try:
                value = [float(part) for part in value]
            except ValueError:
                raise ValueError(f"expected comma-separated numbers, got {','.join(value)!r}") from None
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  for v in value):
            raise ValueError(f"expected a list of numbers, got {toml_spelling(value)}")
        if not value:
            raise ValueError("expected at least one number")
        value = [float(v) for v in value]
        shown = given or [repr(v) for v in value]  # (text as written: 1e400 is no "inf")
        for v, text in zip(value, shown):
            if not 0 < v < float("inf"):
                raise ValueError(f"every bound must be a positive finite number, got {text}")
        for low, high in zip(value, value[1:]):
            if not low < high:
                raise ValueError(f"bounds must be strictly increasing, got {low!r} then {high!r}")
        return value
    if kind == "bool":
        if from_text:
            lowered = value.strip().lower()  # (" on" as int() takes " 3")
            if lowered not in BOOL_WORDS:  # uvicorn's UVICORN_* take on
                from .flagvalues import value_hint
                raise ValueError(f"expected true or false, got {toml_spelling(value)}{value_hint(setting.name, lowered)}")
            return lowered in BOOL_WORDS[:4]
        if not isinstance(value, bool):
            from .flagvalues import value_hint
            hint = value_hint(setting.name, value.strip().lower()) if isinstance(value, str) else ""
            if isinstance(value, str) and value.strip().lower() in BOOL_WORDS and not hint:  # "true", quoted
                hint = f" (a TOML boolean is written without quotes: {setting.name} = " \
                       f"{str(value.strip().lower() in BOOL_WORDS[:4]).lower()})"
            raise ValueError(f"expected true or false, got {toml_spelling(value)}{hint}")
        return value
    if kind == "octal":
        given = value
        if isinstance(value, str):
            try:
                value = int(value, 8)
            except ValueError:
                from .flagvalues import gunicorn_umask
                mask = gunicorn_umask(value) if setting.name == "umask" else None
                raise ValueError(f"expected an octal mode such as \"0o022\", got {toml_spelling(value)}" + (
                    f" (gunicorn's --umask {value.strip()} is 0o{mask:03o}: write 0o{mask:03o})" if mask is not None
                    else "")) from None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
            if isinstance(value, int) and not isinstance(value, bool) and not isinstance(given, str) and value > 0:
                # a TOML integer is decimal: 660 is 0o1224, its digits meant 0o660 (the spelling to write)
                meant = int(str(value), 8) if set(str(value)) <= set("01234567") else 0o1000
                raise ValueError(f"expected a mode from 0o000 to 0o777, got {value} (= {oct(value)}" + (
                    f"; an integer is decimal in TOML: write 0o{meant:03o} or \"0o{meant:03o}\")" if meant <= 0o777 else ")"))
            raise ValueError(f"expected a mode from 0o000 to 0o777, got {given!r}")
        return value
    if setting.name in ("user", "group") and type(value) is int:  # gunicorn's user = 1000
        if value < 0:
            raise ValueError(f"{'uid' if setting.name == 'user' else 'gid'} {value} out of range (0 to {ID_MAX})")
        value = str(value)
    if not isinstance(value, str):  # (false where the empty value turns a feature off is that value)
        if value is False and setting.false_is_off:
            return ""
        kinds = {int: "an integer", float: "a number", bool: "a boolean", list: "an array", dict: "a table"}
        shown = f"{kinds.get(type(value), 'a date')} (not shown: a secret)" if setting.secret else toml_spelling(value)
        raise ValueError(f"expected a string{' (or false: off)' * setting.false_is_off}, got {shown}")
    _no_nul(value)
    value = value.strip() if kind == "choice" and from_text else value  # (" debug" as int() takes " 3")
    if kind == "choice" and value not in setting.choices:
        same = [choice for choice in setting.choices if choice.lower() == value.lower()]
        if not same:  # "DEBUG" as gunicorn takes it is debug
            from .flagvalues import value_hint
            raise ValueError(f"expected one of {', '.join(setting.choices)}, got {toml_spelling(value)}"
                             f"{value_hint(setting.name, value.lower())}")
        value = same[0]
    return value


def check_account(name, kind):
    """``user`` and ``group`` name an existing account (a number is taken as it is, within ``ID_MAX``)."""
    if name.isascii() and name.removeprefix("-").isdigit():  # (no account's name starts with -)
        if name.startswith("-") or int(name) > ID_MAX:  # (-0 too: the worker takes it for a name)
            raise ValueError(f"{'uid' if kind == 'pwd' else 'gid'} {name} out of range (0 to {ID_MAX})")
        check_switch(name, int(name), kind)
        return
    import grp
    import pwd
    try:
        entry = (pwd.getpwnam if kind == "pwd" else grp.getgrnam)(name)
    except KeyError:
        raise ValueError(f"no {'user' if kind == 'pwd' else 'group'} named {name!r} on this host") from None
    check_switch(name, entry.pw_uid if kind == "pwd" else entry.gr_gid, kind)


def check_switch(name, wanted, kind):
    """Only root may give its workers another user or group: a master that is not root
    would run them as itself whatever the setting says."""
    if os.geteuid() == 0:
        return
    current = os.geteuid() if kind == "pwd" else os.getegid()
    if wanted != current:
        what = "uid" if kind == "pwd" else "gid"
        raise ValueError(f"{name}: the workers can run as another {'user' if kind == 'pwd' else 'group'} only "
                         f"when prefork starts as root (it runs as {what} {current})")


def _has_entry(uid):
    import pwd
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def conflicts(values, sources):
    """Problems between settings: an address twice, metrics on a serving address."""
    def where(name):
        return sources[name] if sources[name] != "default" else "default:" + name
    problems = []
    if not values["bind"]:
        problems.append(f"{where('bind')}: expected at least one address")
    seen = set()
    for index, address in enumerate(values["bind"]):
        plain = bind_address(address)
        if plain in seen and not plain.endswith(":0"):
            problems.append(f"{where('bind')}: {plain} is listed twice")
        elif (other := overlapping(plain, values["bind"][:index])) is not None:  # as the start would say
            problems.append(f"{where('bind')}: {plain}: address already in use (by {bind_address(other)}, "
                            f"also in this list)")
        seen.add(plain)
    user = values["user"]
    if user.isascii() and user.isdigit() and not values["group"] and not _has_entry(int(user)):
        problems.append(f"{where('user')}: uid {user} has no passwd entry to take a group from: set group too")
    metrics = values["metrics_bind"]
    if metrics and metrics in seen and not metrics.endswith(":0"):
        problems.append(f"{where('metrics_bind')}: {metrics} is also a bind address (the operations "
                        f"endpoints need an address of their own)")
    elif metrics and (other := overlapping(bind_address(metrics), values["bind"])) is not None:
        problems.append(f"{where('metrics_bind')}: {bind_address(metrics)}: address already in use (by "
                        f"{bind_address(other)}, a bind address)")
    return problems


def check_tls(values, sources, built=None):
    """``SOURCE:KEY`` problems of the TLS settings, found by building the context the
    workers will use (files read, key matched to the certificate, password tried); the
    context goes in ``built["context"]``."""
    bind = values["bind"]
    explicit = [a for a in bind if a.startswith("https://")]
    if not values["certfile"]:
        if explicit:
            return [f"{sources['bind'] if sources['bind'] != 'default' else 'default:bind'}: "
                    f"{explicit[0]}: https needs certfile"]
        return []
    from .net.tlsconfig import ContextError, build_context
    try:
        context = build_context(values)
    except ContextError as exc:
        key = exc.key
        source = sources.get(key, "default")
        return [f"{source if source != 'default' else 'default:' + key}: {exc}"]
    if built is not None:
        built["context"] = context
    return []


def search_dirs(chdir, app_dir):
    """The directories a worker puts first on the Python path for the app (``apps.py``)."""
    from . import apps
    return apps.search_dirs(chdir, app_dir)


def check_app(app, chdir="", app_dir="", interface="auto"):
    """The app's module must be found where a worker will import it from (located,
    never imported: the master does not import the app)."""
    from . import apps
    if not app:
        if interface == "asgi":
            raise ValueError("the demo app speaks events and WSGI; name an ASGI app (APP or app)")
        apps.stdlib_taken(apps.search_dirs(chdir, app_dir))  # (the demo's worker imports json too)
        return
    apps.locate(app, chdir, app_dir)


def check_sources(entries):
    import ipaddress
    for entry in entries:
        if entry not in ("*", "unix"):
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address, a network (CIDR), * or unix") from None
            if "/" in entry and network.network_address != ipaddress.ip_address(entry.partition("/")[0]):
                # host bits set: the network or the host alone? (gunicorn refuses it; uvicorn trusts no peer by it)
                raise ValueError(f"{entry!r} has host bits set: write {network} for the network, or "
                                 f"{entry.partition('/')[0]} for that address alone")


# gunicorn's atom as prefork's own text cannot hold it: any key with "s" (``%(x)s``), or one of
# gunicorn's atom names with its flags, width, precision and any conversion (``%(h)-20s``,
# ``%(D)8d``); not "(saved 90%(approx) so far)" or "%(x)d" in prefork's own text
GUNICORN_ATOM = re.compile(r"%\([^)]*\)s|%\((?:[hlutrmUqHsBbfaTDMLp]|\{[^{}()]*\}[ioe])\)[-#0 +]*\d*(\.\d*)?"
                           r"[diouxXeEfFgGcrsa]")


def check_format(fmt):
    if GUNICORN_ATOM.search(fmt):
        from .gunicornlog import gunicorn_format_hint
        raise ValueError("gunicorn's %(x)s fields are not read here, prefork's are written {x}"
                         + gunicorn_format_hint(fmt, FIELDS))
    parse_format(fmt)  # a format string.Formatter cannot read, an unknown field or header name, raises
    # each field as a worker passes it (text, or an int; {b} is either; a header's: text): a
    # format spec must fit every such value, or every request would fail to log
    for size in (512, "-"):
        sample = dict(_FORMAT_SAMPLES, b=size, **HEADER_SAMPLES)
        try:
            line = fmt.format(**sample)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            raise ValueError(f"not a valid format for its fields: {exc}") from None
        except MemoryError:
            line = None
        if line is None or len(line) > _LINE_MAX:
            raise ValueError(f"a format spec makes lines of more than {_LINE_MAX} characters")


_LINE_MAX = 64 * 1024  # characters of an access log line a format may make from the sample values
_FORMAT_SAMPLES = {"h": "127.0.0.1", "t": "03/Dec/2026:10:00:00 +0000", "r": "GET / HTTP/1.1", "m": "GET",
                   "U": "/", "s": 200, "f": "-", "a": "-", "D": 1500, "L": "0.001500", "p": 1234}


def check_value(name, value):
    """The checks of one setting's converted value against this host; raises ValueError."""
    if name == "bind":
        check_bind(value)
    elif name == "proxy_protocol_bind":  # (the addresses themselves are bind's to check)
        for typed in value:
            if not typed.startswith("systemd:"):
                check_written(typed)
    elif name == "metrics_bind" and value:
        if value.lower() in logfiles.SWITCH_WORDS:  # (the file's false is off)
            raise ValueError(f"{value!r} is no address: metrics_bind takes HOST:PORT or fd://N, and an empty "
                             "value (false in the configuration file) turns the metrics off")
        if value.startswith("unix:"):
            raise ValueError("expected HOST:PORT or fd://N")
        if value.startswith("https://"):
            raise ValueError("the operations endpoints speak plain HTTP: write HOST:PORT (or http://HOST:PORT)")
        check_bind([value], "HOST:PORT, [V6]:PORT or fd://N")
    elif name in ("pidfile", "access_log", "error_log") and value not in ("", "-"):
        if name == "pidfile" and is_null_device(value):  # (gunicorn's rename as root would replace the device)
            raise ValueError(f"{value} is the null device, where no pidfile is kept (for none, leave pidfile "
                             "empty: the default)")
        if not logfiles.check_destination(name, value):  # a switch word, an app spec; True: fd 1, 2, N
            check_parent(value, fifo_ok=name == "pidfile")  # (a pidfile's own check says what a FIFO there is)
        if name == "pidfile" and (reason := not_a_pidfile(value)) is not None:
            raise ValueError(f"{value} {reason}")
    elif name == "user" and value:
        check_account(value, "pwd")
    elif name == "group" and value:
        check_account(value, "grp")
    elif name == "chdir" and value and not os.path.isdir(value):
        raise ValueError(f"{value}: {not_a_directory(value)}")
    elif name == "access_log_format":
        check_format(value)
    elif name in ("proxy_allow_ips", "forwarded_allow_ips"):
        check_sources(value)
    elif name == "loop" and value == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ValueError("uvloop is not installed (pip install 'prefork[uvloop]')")
    elif name == "reload" and value and importlib.util.find_spec("watchfiles") is None:
        raise ValueError("watchfiles is not installed (pip install 'prefork[reload]')")
    elif name == "reload_dirs":
        check_dirs(value)
    elif name == "reload_include" and not value:
        raise ValueError("expected at least one file name pattern")
    elif name == "root_path" and value:
        check_root_path(value)
    elif name == "proc_name" and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # (argv and the environment carry undecodable bytes as surrogates)
            raw = value.encode("utf-8", "surrogateescape")
            raise ValueError(f"{str(raw)[1:]} holds bytes that are not UTF-8: a process title is text") from None


def check_root_path(value):
    """A URL prefix: it starts with "/" and, as the start of every request's path (WSGI's
    SCRIPT_NAME, ASGI's root_path and raw_path bytes), holds latin-1 characters only,
    none of them a control character or a space."""
    if not value.startswith("/"):
        raise ValueError(f"{value!r}: a URL path prefix starts with '/' (e.g. \"/app\")")
    bad = next((char for char in value if ord(char) > 0xFF or ord(char) <= 0x20 or 0x7F <= ord(char) < 0xA0), None)
    if bad is not None:
        raise ValueError(f"{value!r}: {bad!r} cannot stand in a URL path prefix (percent-encode it)")
