"""Loading the settings: every source merged, every problem collected.

Rules:
- Sources, highest first: command-line flags, ``PREFORK_<NAME>`` environment variables,
  the TOML file, the defaults (the table is ``options.py``). ``workers`` falls back on
  ``WEB_CONCURRENCY`` (set by hosting platforms) below all of those, before the CPU
  count (an empty one is none, as an empty ``PORT`` is: gunicorn and uvicorn fail on it); ``bind``
  on ``PORT`` (set by Heroku, Cloud Run, Render...) as ``0.0.0.0:PORT``,
  as gunicorn takes it, before ``127.0.0.1:8000``; ``forwarded_allow_ips`` on
  ``FORWARDED_ALLOW_IPS``, which gunicorn and uvicorn both read (UNIX-socket peers stay
  trusted, as gunicorn always trusts them); ``root_path`` on ``SCRIPT_NAME``, gunicorn's
  mount point.
- ``load`` collects every problem it finds (it never stops at the first) as
  ``SOURCE:KEY: what is wrong`` lines, where SOURCE is the config file's path, ``env``
  or ``argv``; each value is converted and checked by ``checks.py``.
- An unknown key in the file is a problem, with the setting meant when one is near or
  when the key is gunicorn's or uvicorn's name for it (``migration.py``; with the line to
  write, its value as that server reads it, when it has one: ``flagvalues.py``); an unknown
  ``PREFORK_*`` variable near a setting's is a warning (``Settings.warnings``), since
  other tools may set variables of that prefix; so is ``GUNICORN_CMD_ARGS`` or a
  ``UVICORN_*`` variable, which an image built for those servers may still set, and a
  ``gunicorn.conf.py`` in the working directory when no config file is named (gunicorn
  reads that file unasked; prefork does not). A setting given a value that nothing uses
  without another one (``reload_dirs`` without ``reload``, ``keyfile`` without
  ``certfile``: ``NEEDS``) is a warning too, and so is a ``reload_include`` that leaves
  out the app's Python files (it replaces ``*.py``, where uvicorn's adds to it).
- A file TOML cannot read is one ``FILE: not valid TOML: ...`` problem, with the file's
  own words where they tell more than TOML's message (``tomlhints.py``): a key set twice
  by both its lines, a string written without quotes (``bind = 0.0.0.0:8000``) quoted.
- A config file that is ``/dev/null`` (gunicorn's way to read none), or the null device
  by another path, holds no settings; another device or a FIFO is refused (it could
  block the start, or fill the memory).
- Several addresses written as one ``bind`` (or ``proxy_protocol_bind``) entry (``-b a:1,b:2``,
  ``PREFORK_BIND="a:1 b:2"``) are told how to list them where they were given: ``-b`` once
  per address, the variable comma-separated, the file's list one string per address.
  A ``proxy_protocol_bind`` entry bound by no listener is shown quoted when white space
  is around it or its UNIX path (a path may end in a space: no spelling error in itself),
  with the address to write when that one is bound.
- A mode (``umask``, ``unix_socket_mode``) written in the file as a decimal integer of
  octal digits, 8 or more (``umask = 22``), is a problem: TOML reads it as decimal
  (0o026), where the same digits given as a flag or variable are octal. One out of
  range is refused with the octal spelling of its digits when they make a mode (``660``:
  0o660), and shown in octal when it was written so (``0o1777``).
- A reload checks a setting it cannot change (``bind``, ``pidfile``...) against the host
  only when its value changed: the one in effect is kept whatever the host says now (its
  pidfile's directory cleaned away, its host name's resolver down), so it refuses no
  reload.
- This module is the settings' public surface: it re-exports the table and its
  constants, so callers import ``prefork.settings`` only.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from . import checks, migration, tomlhints
from .flagvalues import file_line
from .bindcheck import SeveralAddresses, written_together
from .pathcheck import is_null_device, not_a_directory
from .checks import bind_address
from .options import (BY_NAME, CHECK_CONFIG_HELP, DEFAULT_ACCESS_FORMAT, DURATION_MAX, INTERFACES, LOG_LEVELS,
                      LOOPS, MAX_THREADS, MAX_WORKERS, SCHEMES, SETTINGS, TLS_SETTINGS, TLS_VERSIONS, VERIFY_CLIENT,
                      Setting, cpus, render_config, toml_value)

__all__ = ["BY_NAME", "CHECK_CONFIG_HELP", "DEFAULT_ACCESS_FORMAT", "DURATION_MAX", "INTERFACES", "LOG_LEVELS", "LOOPS", "MAX_THREADS",
           "MAX_WORKERS", "SCHEMES", "SETTINGS", "TLS_SETTINGS", "TLS_VERSIONS", "VERIFY_CLIENT", "ConfigError", "Setting",
           "Settings", "bind_address", "load", "render_config", "toml_value"]


@dataclass
class Settings:
    """The effective settings (attribute per setting) and where the config came from."""
    values: dict
    config_file: str = None
    sources: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)  # ``SOURCE: what is odd`` lines that stop nothing
    # the TLS context built when the settings were checked: workers forked from this
    # process share it (and so its session ticket keys: a client resumes on any worker)
    tls_context: object = field(default=None, compare=False, repr=False)

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


def _near(name, known):
    """`` (did you mean X?)`` for the known name closest to a mistyped one, or ""."""
    from difflib import get_close_matches  # an error's hint only

    import unicodedata

    # (WORKERS, a variable's PREFORK_WORKERS, fullwidth letters: the same setting)
    name = unicodedata.normalize("NFKC", name).lower().removeprefix("prefork_")
    close = get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _listed(setting, source, raw, several):
    """`` (how to list them)`` for several addresses written as one entry of ``setting``
    (``raw``: its value as given), in the words of the source that gave them."""
    parts = several.parts
    if setting.kind != "list":
        return f" ({setting.name} serves on one address)"
    if source.startswith("argv:"):
        flag = "-b" if setting.name == "bind" else setting.flag  # (-b: gunicorn's spelling, the one most give)
        return f" (repeat {flag} once per address: {' '.join(f'{flag} {part}' for part in parts)})"
    if source.startswith("env:"):
        every = [part for entry in raw.split(",") for part in (written_together(entry) or [entry.strip()]) if part]
        return f" ({source[4:]} takes them comma-separated: {source[4:]}={','.join(every)})"
    entries = raw if isinstance(raw, list) else [raw]
    listed = [part for entry in entries for part in (parts if entry == several.typed else [entry])]
    return f" (one string per address: {setting.name} = {toml_value(listed)})"


def derive_workers(values, sources):
    """The worker count when none is set: one per CPU; one under the development
    ``reload`` (one worker reloads fastest). An explicit count is kept."""
    if sources.get("workers") == "default":
        values["workers"] = 1 if values.get("reload") else cpus()


def unbound_proxy_listeners(values):
    """The ``proxy_protocol_bind`` entries that name none of ``bind``'s listeners."""
    bound = set(values["bind"])
    return [address for address in values["proxy_protocol_bind"]
            if address not in bound and not address.startswith("systemd:")]


def _unbound(address, bound):
    """What is wrong with a ``proxy_protocol_bind`` entry that names no listener: white
    space around it (or around a UNIX socket's path) is shown quoted, and the address
    without it named when that is bound."""
    scheme = "unix:" if address.strip().startswith("unix:") else ""
    tidy = scheme + address.strip()[len(scheme):].strip()
    if tidy == address:
        return f"{address} is not one of the bind addresses"
    return f"{address!r} is not one of the bind addresses" + (
        f" (white space around the address: write {tidy!r}, which is bound)" if tidy in bound else "")


def _hint(key, value=None):
    """`` (what to use)`` for an unknown key: another server's name for a setting (with
    its value as written here, when it has one: ``flagvalues.file_line``), or a near miss."""
    line = file_line(key, value) if migration.NAMES.get(key, (0, None))[1] else None
    if line is not None:
        note = line[1] or migration.NAMES[key][2]
        return f" ({key} is {migration.whose(migration.NAMES[key][0])}: write {line[0]} here" + (f" ({note})" if note else "") + ")"
    other = migration.hint(key, flag_form=False)
    return f" ({other})" if other else _near(key, BY_NAME)


def _check_mode_literal(name, text):
    """A mode written in the configuration file as a decimal TOML integer of octal digits
    (``umask = 77``) is read by TOML as decimal (0o115, which lets others write) while the
    same digits in a flag or variable are octal (0o077): it is refused, with the octal
    spelling, rather than taken as a mask or mode nobody meant. 0 to 7 read the same
    either way."""
    found = re.search(rf"(?m)^[ \t]*(?:{name}|\"{name}\"|'{name}')"  # (the key bare or quoted, a sign or none)
                      rf"[ \t]*=[ \t]*\+?([0-9][0-9_]*)[ \t]*(?:#.*)?\r?$", text)
    if found is None:
        return
    literal = found.group(1).replace("_", "")
    if int(literal) >= 8 and set(literal) <= set("01234567"):
        raise ValueError(f"{literal} is a decimal integer in TOML (= 0o{int(literal):03o}), not the octal mode "
                         f"0o{int(literal, 8):03o}: write 0o{int(literal, 8):03o} (or \"0o{int(literal, 8):03o}\")")


def _check_mode_range(name, raw, text):
    """A mode out of range written in the file as an octal, hexadecimal or binary TOML
    integer (``0o1777``) is shown so, without the hint ``checks.convert`` gives a decimal
    one (``660``: write 0o660), which would name a mode nobody wrote."""
    if (isinstance(raw, int) and not isinstance(raw, bool) and not 0 <= raw <= 0o777
            and not re.search(rf"(?m)^[ \t]*(?:{name}|\"{name}\"|'{name}')"  # (the key bare or quoted)
                              rf"[ \t]*=[ \t]*[-+]?[0-9][0-9_]*[ \t]*(?:#.*)?\r?$", text)):
        raise ValueError(f"expected a mode from 0o000 to 0o777, got {raw:#o}")


class _NotAFile(Exception):
    """The configuration path names something that is not a file."""


CHECKED_CONFIG_ENV = "PREFORK_CHECKED_CONFIG"  # a USR2's new program: the configuration file's content its master checked


def load(config_file=None, env=None, argv_values=None, text=None, running=None):
    """Build Settings from the sources; raises ConfigError with every problem found.
    ``text``: the configuration file's content, read already (a USR2's new program takes
    the one its master checked last), in place of reading the file. ``running``: the
    settings in effect, when a reload reads the configuration."""
    env = os.environ if env is None else env
    argv_values = argv_values or {}
    problems = []
    values = {}
    sources = {}
    named_by = ""
    if config_file is None:
        config_file = argv_values.pop("config", None) or None
        if config_file is None and env.get("PREFORK_CONFIG"):
            config_file = env["PREFORK_CONFIG"]
            named_by = "env:PREFORK_CONFIG: "  # (a file that cannot be read says where its name came from)
    file_values = {}
    file_text = ""  # the file's own text: how a value was written, where its value cannot tell
    if config_file:
        import tomllib  # here: a worker forked without a config file never holds it

        try:
            if text is not None:
                file_values = tomllib.loads(text)
                file_text = text
            elif is_null_device(config_file):
                pass  # gunicorn's -c /dev/null: no settings (it reads nothing, not even ./gunicorn.conf.py)
            elif os.path.exists(config_file) and not os.path.isfile(config_file) and not os.path.isdir(config_file):
                # a FIFO would block the start unseen, /dev/zero fill the memory
                raise _NotAFile()
            else:
                with open(config_file, "rb") as fh:
                    file_text = fh.read().decode()
                file_values = tomllib.loads(file_text)
        except _NotAFile:
            problems.append(f"{named_by}{config_file}: not a regular file (a FIFO or a device): give the "
                            f"configuration's file")
        except (RecursionError, MemoryError):
            problems.append(f"{named_by}{config_file}: not valid TOML: nested too deeply, or too large")
        except FileNotFoundError:
            python = " (gunicorn's python:MODULE: prefork reads a TOML file, see docs/gunicorn.md)" \
                if config_file.startswith("python:") else ""
            problems.append(f"{named_by}{config_file}: no such file{python}")
        except OSError as exc:
            problems.append(f"{named_by}{config_file}: cannot read: {exc.strerror}")
        except tomllib.TOMLDecodeError as exc:
            hint = " (this is a Python file: prefork reads TOML, see docs/gunicorn.md)" \
                if config_file.endswith(".py") else ""
            if file_text.startswith("\ufeff"):  # an editor's mark, invisible in the editor itself
                hint = " (the file starts with a byte order mark, U+FEFF: save it as UTF-8 without one)"
            hint = hint or tomlhints.syntax_hint(str(exc), file_text, _hint)
            problems.append(f"{named_by}{config_file}: not valid TOML: {exc}{hint}")
        except UnicodeDecodeError as exc:
            problems.append(f"{named_by}{config_file}: not valid TOML: not UTF-8 text (byte {exc.start})")
        for key in file_values:
            if key not in BY_NAME and tomlhints.is_table(file_values[key]) and not migration.hint(key, False):
                problems.append(f"{config_file}:{tomlhints.key_shown(key)}: unknown setting (a table: settings "
                                f"are top-level keys, written before any [table])")
            elif key not in BY_NAME:
                problems.append(f"{config_file}:{tomlhints.key_shown(key)}: unknown setting"
                                f"{_hint(key, file_values[key])}")
    warnings = []
    for name in env:
        if name.startswith("PREFORK_") and name[8:].lower() not in BY_NAME:
            from difflib import get_close_matches  # an error's hint only

            close = get_close_matches(name[8:].lower(), list(BY_NAME), n=1, cutoff=0.8)
            if close:
                warnings.append(f"env:{name}: unknown setting, ignored (did you mean {BY_NAME[close[0]].env}?)")
        elif name == "GUNICORN_CMD_ARGS" or name.startswith("UVICORN_"):
            warnings.append(f"env:{name}: {migration.env_hint(name, env[name])}")
    if config_file and config_file.endswith(".py") and file_values:  # a gunicorn.conf.py that is also TOML
        warnings.append(f"{config_file}: a Python file, read as TOML: prefork runs no configuration code "
                        f"(docs/gunicorn.md)")
    if not config_file and os.path.isfile(migration.GUNICORN_CONFIG):  # gunicorn reads it unasked
        warnings.append(f"{migration.GUNICORN_CONFIG}: {migration.GUNICORN_CONFIG_NOTE}")
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
        elif name == "workers" and env.get("WEB_CONCURRENCY", "").strip():  # the platform's hint, below ours
            raw, source, from_text = env["WEB_CONCURRENCY"], "env:WEB_CONCURRENCY", True
        elif name == "bind" and env.get("PORT", "").strip():  # the platform's port, as gunicorn takes it
            port = env["PORT"].strip()
            if not (port.isascii() and port.isdigit()):
                problems.append(f"env:PORT: expected a port number, got {env['PORT']!r}")
                continue
            raw, source, from_text = [f"0.0.0.0:{port}"], "env:PORT", False
        elif name == "forwarded_allow_ips" and "FORWARDED_ALLOW_IPS" in env:  # read by gunicorn and uvicorn
            raw, source, from_text = env["FORWARDED_ALLOW_IPS"], "env:FORWARDED_ALLOW_IPS", True
            raw = raw if {"unix", "*"} & {part.strip() for part in raw.split(",")} else raw + ",unix"
        elif name == "root_path" and env.get("SCRIPT_NAME"):  # gunicorn's mount point, from its environment
            raw, source, from_text = env["SCRIPT_NAME"], "env:SCRIPT_NAME", True
        else:
            values[name] = cpus() if name == "workers" and setting.default is None else setting.default
            sources[name] = "default"
            continue
        try:
            if setting.kind == "octal" and source == f"{config_file}:{name}":
                _check_mode_range(name, raw, file_text)
            value = checks.convert(setting, raw, from_text)
            if running is None or setting.reloadable or value != running.values[name]:
                checks.check_value(name, value)
            if setting.kind == "octal" and source == f"{config_file}:{name}":
                _check_mode_literal(name, file_text)
        except SeveralAddresses as exc:
            problems.append(f"{source}: {exc}{_listed(setting, source, raw, exc)}")
            continue
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
            continue
        values[name] = value
        sources[name] = source
    if "app" in values and "chdir" in values and "app_dir" in values:
        # a missing app_dir is said whether or not the app is found elsewhere: a worker would
        # fail to boot on it, and "no module named" alone would hide where the search looked
        directory = checks.search_dirs(values["chdir"], values["app_dir"])[0] if values["app_dir"] else ""
        if directory and not os.path.isdir(directory):
            problems.append(f"{sources['app_dir']}: {directory}: {not_a_directory(directory)}"
                            + (f" (app_dir is relative to chdir, {values['chdir']})"
                               if values["chdir"] and not os.path.isabs(values["app_dir"]) else "")
                            + (": app_dir is one directory (gunicorn's --pythonpath A,B is app_dir A, with B "
                               "in PYTHONPATH)" if "," in values["app_dir"] else ""))
        try:
            checks.check_app(values["app"], values["chdir"], values["app_dir"], values.get("interface"))
        except ValueError as exc:
            problems.append(f"{sources['app'] if values['app'] else sources['interface']}: {exc}")
    derive_workers(values, sources)
    if not problems:
        problems.extend(checks.conflicts(values, sources))
    if not problems:
        problems.extend(f"{sources['proxy_protocol_bind']}: {_unbound(address, values['bind'])}"
                        for address in unbound_proxy_listeners(values))
    if not problems:
        h, r = values["headers_timeout"], values["request_timeout"]
        if h > 0 and r > 0 and h > r:
            if sources["headers_timeout"] == "default":  # Node's: at most 60 s, at most request_timeout
                values["headers_timeout"] = r
            else:
                problems.append(f"{sources['headers_timeout']}: headers_timeout ({h}) must not exceed "
                                f"request_timeout ({r})")
    built = {}
    if all(name in values for name in TLS_SETTINGS):
        problems.extend(checks.check_tls(values, sources, built))
    if problems:
        raise ConfigError(problems)
    warnings.extend(_inert(values, sources))
    warnings.extend(_root_path_trap(values, sources))
    warnings.extend(_reload_include_trap(values, sources))
    warnings.extend(_relative_to_start(values, sources))
    return Settings(values, config_file, sources, warnings, tls_context=built.get("context"))


# settings that do nothing unless another one is set: (names, needed, what it needs)
NEEDS = (
    (("reload_dirs", "reload_include"), lambda v: v["reload"], "reload (--reload)"),
    (("max_requests_jitter",), lambda v: v["max_requests"], "max_requests"),
    (("keyfile", "keyfile_password", "ca_certs", "verify_client", "tls_min_version", "ciphers",
      "tls_handshake_timeout"), lambda v: v["certfile"] or any(a.startswith("https://") for a in v["bind"]),
     "certfile (TLS is off)"),
    (("proxy_allow_ips", "proxy_protocol_timeout"), lambda v: v["proxy_protocol"] or v["proxy_protocol_bind"],
     "proxy_protocol or proxy_protocol_bind"),
    (("access_log_format", "access_log_flush"), lambda v: v["access_log"], "access_log (the access log is off)"),
    (("metrics_buckets",), lambda v: v["metrics_bind"], "metrics_bind (metrics are off)"),
)


PATHS = ("pidfile", "access_log", "error_log", "certfile", "keyfile", "ca_certs")  # opened by the master (and reload_dirs)


def _relative_to_start(values, sources):
    """``SOURCE: PATH is relative to where prefork started ...`` for each relative path
    the master opens while chdir names another directory: gunicorn's master changes to
    chdir first, so such a path would be found there; prefork's stays where it started
    (only the workers change directory)."""
    chdir = values.get("chdir")
    if not chdir:
        return []
    from .startdir import started_in  # (a working directory removed before the start has its path)
    start = started_in()
    base = os.path.normpath(os.path.join(start, chdir))
    if base == start:
        return []
    found = []
    for name in PATHS:
        path = values[name]
        if path and path != "-" and not os.path.isabs(path):
            found.append(f"{sources[name]}: {path} is relative to where prefork started ({start}), not to chdir "
                         f"({base}) as gunicorn's would be: write it as an absolute path")
    for path in values["reload_dirs"]:  # watched by the master's watcher
        if not os.path.isabs(path):
            found.append(f"{sources['reload_dirs']}: {path} is relative to where prefork started ({start}), not "
                         f"to chdir ({base}): write it as an absolute path")
    for address in values["bind"]:
        path = bind_address(address)[5:] if bind_address(address).startswith("unix:") else None
        if path and not os.path.isabs(path):
            found.append(f"{sources['bind']}: unix:{path} is relative to where prefork started ({start}), not to "
                         f"chdir ({base}) as gunicorn's would be: write it as an absolute path")
    return found


def _inert(values, sources):
    """``SOURCE: has no effect without X`` for each setting given a value that nothing
    uses: as uvicorn warns of reload directories without reload, rather than saying nothing."""
    found = []
    for names, needed, what in NEEDS:
        if needed(values):
            continue
        for name in names:
            if sources.get(name, "default") != "default" and values[name] != BY_NAME[name].default:
                found.append(f"{sources[name]}: has no effect without {what}")
    return found


def _reload_include_trap(values, sources):
    """``reload_include`` given without a pattern for Python files: it replaces ``*.py``,
    where uvicorn's ``--reload-include`` and gunicorn's ``reload_extra_files`` add to the
    app's code, so the app's own edits would no longer reload."""
    patterns = values["reload_include"]
    if not values["reload"] or sources.get("reload_include", "default") == "default":
        return []
    if any(pattern.endswith(".py") or PurePath("pkg/app.py").match(pattern) for pattern in patterns):
        return []
    return [f"{sources['reload_include']}: {', '.join(patterns)} replaces the default *.py, so a change to the "
            "app's Python files no longer reloads (uvicorn's --reload-include and gunicorn's reload_extra_files "
            "add to them): list *.py too"]


def _root_path_trap(values, sources):
    """A ``root_path`` with characters past ASCII: WSGI reads a path's bytes as latin-1
    (PEP 3333), so under WSGI it matches only a latin-1 percent-encoded path, never the
    UTF-8 one a browser sends (``/café`` is ``/caf%C3%A9`` on the wire)."""
    value = values.get("root_path") or ""
    if value.isascii():
        return []
    return [f"{sources.get('root_path', 'root_path')}: {value!r} holds characters past ASCII: under WSGI "
            "it matches only paths percent-encoded in latin-1, never the UTF-8 a browser sends "
            f"(use the latin-1 reading of those bytes, {value.encode('utf-8').decode('latin-1')!r}, "
            "or an ASCII prefix)"]


if __name__ == "__main__":
    print(render_config(), end="")
