"""The server's options: Node's defaults, and the checks ``http.createServer`` makes
at construction.

Rules:
- Every option is a ``Server`` attribute of the same name; ``checked(options)`` gives
  the value of each (the defaults below for those not given).
- An unknown option is a TypeError. Timeouts and ``max_header_size`` are numbers >= 0
  (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE; ``max_header_size`` whole),
  ``require_host_header``, ``join_duplicate_headers`` and
  ``reject_non_standard_body_writes`` bools, as Node checks them, and
  ``unique_headers`` a list of names (Node ignores any other value; a TypeError here). Attributes set later are not
  checked so (Node checks them neither then nor at ``listen()``): the timeouts only for
  what Node throws at their use (timeouts.py).
- ``max_header_size`` 0 is Node's default (16384), not no limit, as in Node.
- ``headers_timeout`` not given is Node's: 60 s, at most ``request_timeout`` (0 when
  that is 0); given, it may not exceed a ``request_timeout`` that is not 0.
"""

DEFAULTS = {
    "keep_alive_timeout": 5.0,
    "headers_timeout": 60.0,
    "request_timeout": 300.0,
    "timeout": 0.0,
    "max_requests_per_socket": 0,
    "max_header_size": 16384,
    "max_headers_count": None,
    "require_host_header": True,
    # not Node's: a request with two Host fields is refused with a 400 (RFC 9112 3.2);
    # the WSGI and ASGI interfaces turn it on, as gunicorn refuses one (Node serves the first)
    "unique_host_header": False,
    # not Node's: every response says Connection: close and its connection closes after
    # it (the daemon's keep_alive_timeout = 0, as gunicorn's, uvicorn's and nginx's 0)
    "no_keep_alive": False,
    "connections_checking_interval": 30.0,
    "proxy_protocol_timeout": 5.0,
    "proxy_allow_ips": ("127.0.0.1", "::1", "unix"),
    # Node's shouldUpgradeCallback: called with the request of an upgrade; False serves
    # it as a plain request (None: an upgrade leaves HTTP when ``upgrade`` is listened)
    "should_upgrade_callback": None,
    # Node's maxConnections: a connection accepted while this many are open (HTTP and
    # handed-off ones) is closed at once, with a 'drop' event (None or 0: no limit)
    "max_connections": None,
    # Node's joinDuplicateHeaders: every repeated request field is joined with ", " in
    # req.headers (by default some keep their first value, as Node's)
    "join_duplicate_headers": False,
    # Node's uniqueHeaders: names (any case) whose list value goes out as one field,
    # its items joined with "; " (by default a list is one line per item)
    "unique_headers": None,
    # Node's rejectNonStandardBodyWrites: a body written to a response that has none (HEAD,
    # 1xx, 204, 304) raises ERR_HTTP_BODY_NOT_ALLOWED (by default it is dropped silently)
    "reject_non_standard_body_writes": False,
    # Node's noDelay, keepAlive and keepAliveInitialDelay (seconds here): TCP_NODELAY on each
    # accepted connection (on by default, as Node's http server), TCP keep-alive probes
    "no_delay": True,
    "keep_alive": False,
    "keep_alive_initial_delay": 0.0,
}

# what a max_header_size of 0 stands for (Node's: 0 is the process's default, never no limit)
HEADER_LIMIT = DEFAULTS["max_header_size"]

# options Node checks at construction (not when set as attributes later): numbers >= 0
_CHECKED_NUMBERS = ("keep_alive_timeout", "headers_timeout", "request_timeout",
                    "connections_checking_interval", "max_header_size", "keep_alive_initial_delay")


def _arg_type_error(name, expected, value):
    err = TypeError(f"the {name!r} option must be of type {expected}; got {value!r}")
    err.code = "ERR_INVALID_ARG_TYPE"
    return err


def _check_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _arg_type_error(name, "number", value)
    whole = name == "max_header_size"  # a count of bytes; the others are seconds
    if not 0 <= value < float("inf") or (whole and value != int(value)):
        err = ValueError(f"the {name!r} option must be {'an integer ' if whole else ''}>= 0; got {value!r}")
        err.code = "ERR_OUT_OF_RANGE"
        raise err


def checked(options):
    """{option: value} for every option, ``options`` checked as Node checks them."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown server option(s): {', '.join(sorted(unknown))}")
    for name in _CHECKED_NUMBERS:
        if name in options:
            _check_number(name, options[name])
    for name in ("require_host_header", "join_duplicate_headers", "reject_non_standard_body_writes"):
        if name in options and not isinstance(options[name], bool):
            raise _arg_type_error(name, "bool", options[name])
    unique = options.get("unique_headers")
    if unique is not None and (not isinstance(unique, (list, tuple, set, frozenset)) or
                               not all(isinstance(name, str) for name in unique)):
        raise _arg_type_error("unique_headers", "a list of header names", unique)
    values = {name: options.get(name, default) for name, default in DEFAULTS.items()}
    if "headers_timeout" not in options:  # Node's: at most 60 s, at most request_timeout
        values["headers_timeout"] = min(DEFAULTS["headers_timeout"], values["request_timeout"])
    h, r = values["headers_timeout"], values["request_timeout"]
    if h > 0 and r > 0 and h > r:
        err = ValueError(f"headers_timeout ({h}) must not exceed request_timeout ({r})")
        err.code = "ERR_OUT_OF_RANGE"
        raise err
    return values
