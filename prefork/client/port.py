"""Where a client request connects: its host and port, read from ``options`` as Node's
``http.request`` reads them (their checks and errors), and its Host field."""


def connect_host(options):
    """``hostname``, else ``host``, else ``localhost``; one that is no str raises
    ERR_INVALID_ARG_TYPE (a TypeError), as Node's ``validateHost``."""
    host = options.get("hostname") or options.get("host") or "localhost"
    if not isinstance(host, str):
        err = TypeError(f'The "options.host" property must be of type string, not {type(host).__name__}')
        err.code = "ERR_INVALID_ARG_TYPE"
        raise err
    return host


def host_field(host, port):
    """The Host field's value: an IPv6 address in brackets, the port unless it is 80 (Node's)."""
    if host.count(":") > 1 and not host.startswith("["):
        host = f"[{host}]"
    return host if port == 80 else f"{host}:{port}"


def connect_port(port):
    """The port to connect to, as Node takes ``options.port``: a false value (NaN too)
    is 80 (its ``|| defaultPort``); else a whole number 0-65535, or a string of one
    (surrounding blanks allowed); another number or string raises ERR_SOCKET_BAD_PORT (a
    ValueError), any other type ERR_INVALID_ARG_TYPE (a TypeError), at once."""
    if port is None or port != port or (isinstance(port, (int, float, str)) and not port):
        return 80  # JavaScript's false values: undefined, null, false, 0, NaN, ""
    if isinstance(port, bool) or not isinstance(port, (int, float, str)):
        err = TypeError('The "options.port" property must be one of type number or string. '
                        f"Received {port!r}")
        err.code = "ERR_INVALID_ARG_TYPE"
        raise err
    number = None
    if isinstance(port, str) and port.strip():
        text = port.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                number = int(text, 0)  # 0x50, 0o120, 0b1010000, as JavaScript's Number()
            except ValueError:
                pass
    elif not isinstance(port, str):
        number = port
    if number is None or number != number or not 0 <= number <= 65535 or int(number) != number:
        err = ValueError(f"Port should be >= 0 and < 65536. Received {port!r}.")
        err.code = "ERR_SOCKET_BAD_PORT"
        raise err
    return int(number)
