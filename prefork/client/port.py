"""Where a client request connects: its host and port, read from ``options`` as Node's
``http.request`` reads them (their checks and errors), its Host field, and where it
connects from (``local_options``).

Rules:
- A port (``port``, else ``default_port``) is checked by net/ports.py's ``checked_port``,
  the one check ``net.connect`` makes; a refused value (``local_port`` too) is named
  in the message by its ``described``, as Node names it (``type number (70000)``).
"""

import socket as _socket

from ..net.ports import checked_port, coded, described  # (coded: client modules take it from here)


def connect_host(options):
    """``hostname``, else ``host``, else ``localhost``; one that is no str raises
    ERR_INVALID_ARG_TYPE (a TypeError), as Node's ``validateHost``."""
    host = options.get("hostname") or options.get("host") or "localhost"
    if not isinstance(host, str):
        err = TypeError(f'The "options.host" property must be of type string, not {type(host).__name__}')
        err.code = "ERR_INVALID_ARG_TYPE"
        raise err
    return host


def host_field(host, port, default_port=80):
    """The Host field's value: an IPv6 address in brackets, the port (as given: a UNIX
    socket's is not checked) unless it is the default one (the ``default_port`` option,
    else the agent's: 80) as Node's ``+port !== defaultPort`` decides."""
    if host.count(":") > 1 and not host.startswith("["):
        host = f"[{host}]"
    return host if _same_number(port, default_port) else f"{host}:{port}"


def _same_number(port, default):
    """JavaScript's ``+port === default``: a default that is no number equals nothing."""
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return False
    if isinstance(port, str):
        try:
            port = float(port.strip() or 0)
        except ValueError:
            return False
    return port == default


def connect_port(port, default=80):
    """The port to connect to, as Node takes ``options.port``: a false value (NaN too)
    is ``default`` (its ``|| defaultPort``, checked as the port is: ``default_port="8080"``
    is 8080); else checked as ``net.connect`` checks it (net/ports.py's ``checked_port``:
    a whole number 0-65535 or a string JavaScript's ``Number()`` reads as one, else
    ERR_SOCKET_BAD_PORT, a ValueError; another type ERR_INVALID_ARG_TYPE, a TypeError),
    at once, with Node's wording of what was received."""
    if _false(port):
        if _false(default):
            return 80  # (Node's ``|| 80``)
        port = default
    return checked_port(port)


def _false(value):
    """JavaScript's false values: undefined, null, false, 0, NaN, ""."""
    return value is None or value != value or (isinstance(value, (int, float, str)) and not value)


def local_options(options):
    """The options of where and how a request connects, checked at once as Node checks
    them: ``local_address`` an IP address (else ERR_INVALID_IP_ADDRESS), ``local_port``
    a whole number 0-65535 (else ERR_INVALID_ARG_TYPE or ERR_SOCKET_BAD_PORT, where
    Node leaves a bad range to its bind), ``family`` 0, 4 or 6 (else
    ERR_INVALID_ARG_VALUE), ``lookup`` a callable and ``hints`` a whole number (else
    ERR_INVALID_ARG_TYPE), for the system's resolver only AI_ADDRCONFIG, AI_ALL and
    AI_V4MAPPED (else ERR_INVALID_ARG_VALUE; a ``lookup`` is given any),
    ``auto_select_family`` a bool and ``auto_select_family_attempt_timeout`` seconds above
    0 (Node's ``autoSelectFamily`` options: net/connect.py). Only those given (not None)
    are kept."""
    address, port = options.get("local_address"), options.get("local_port")
    family, lookup, hints = options.get("family"), options.get("lookup"), options.get("hints")
    if address is not None and not any(_is_address(kind, address) for kind in (_socket.AF_INET, _socket.AF_INET6)):
        raise coded(TypeError, "ERR_INVALID_IP_ADDRESS", f"Invalid IP address: {address}")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                      f'The "options.localPort" property must be of type number. Received {described(port)}')
    if port is not None and not 0 <= port <= 65535:
        raise coded(ValueError, "ERR_SOCKET_BAD_PORT", f"Port should be >= 0 and < 65536. Received {described(port)}.")
    if family is not None and (isinstance(family, bool) or family not in (0, 4, 6)):
        raise coded(ValueError, "ERR_INVALID_ARG_VALUE",
                      f"The property 'options.family' must be one of: 0, 4, 6. Received {family!r}")
    if lookup is not None and not callable(lookup):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                      f'The "options.lookup" property must be of type function. Received {lookup!r}')
    if hints is not None and (isinstance(hints, bool) or not isinstance(hints, int)):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                      f'The "options.hints" property must be of type number. Received {hints!r}')
    if hints and lookup is None and hints & ~(_socket.AI_ADDRCONFIG | _socket.AI_ALL | _socket.AI_V4MAPPED):
        raise coded(ValueError, "ERR_INVALID_ARG_VALUE", f"The argument 'hints' is invalid. Received {hints!r}")
    auto, attempt = options.get("auto_select_family"), options.get("auto_select_family_attempt_timeout")
    if auto is not None and not isinstance(auto, bool):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE",
                    f'The "options.autoSelectFamily" property must be of type boolean. Received {auto!r}')
    if attempt is not None and (isinstance(attempt, bool) or not isinstance(attempt, (int, float))):
        raise coded(TypeError, "ERR_INVALID_ARG_TYPE", 'The "options.autoSelectFamilyAttemptTimeout" property must '
                    f'be of type number. Received {attempt!r}')
    if attempt is not None and not attempt > 0:  # (NaN too)
        raise coded(ValueError, "ERR_OUT_OF_RANGE", 'The value of "options.autoSelectFamilyAttemptTimeout" is out '
                    f'of range. It must be a number of seconds above 0. Received {attempt!r}')
    given = {"local_address": address, "local_port": port, "family": family, "lookup": lookup, "hints": hints,
             "auto_select_family": auto, "auto_select_family_attempt_timeout": attempt}
    return {name: value for name, value in given.items() if value is not None}


def _is_address(family, text):
    try:
        _socket.inet_pton(family, text)
        return True
    except (OSError, ValueError, TypeError):
        return False
