"""The client's refusal of an option it does not take (``request()``'s, ``Agent``'s): an
error that names prefork's option when the caller spelled Node's.

Rules:
- An option not taken is refused, never ignored (it would change what is sent or how
  sockets are kept): a TypeError (as Python's for an unexpected keyword) with the code
  ERR_INVALID_ARG_VALUE and the option's name.
- A name that is Node's (camelCase, ``keepAliveMsecs``, or its snake_case form,
  ``keep_alive_msecs``) is told prefork's spelling of it, with the unit where the two
  differ (Node's milliseconds, prefork's seconds); any other name is told the options
  taken.
"""

import re

# Node's names whose prefork option is not their snake_case form (prefork's name, the unit's note)
RENAMED = {
    "keep_alive_msecs": ("keep_alive_initial_delay", "in seconds, where Node's keepAliveMsecs is milliseconds"),
}
# Node's options given in milliseconds whose snake_case form prefork takes in seconds
SECONDS = frozenset(("auto_select_family_attempt_timeout", "timeout"))


def snake(name):
    """``name`` in snake_case (``insecureHTTPParser``: ``insecure_http_parser``)."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def refused(what, names, taken, unsupported=()):
    """The error for the first of ``names`` (options of ``what``, not in ``taken``):
    ``unsupported`` are Node's options prefork does not implement at all."""
    name = min(names, key=str)
    plain = snake(name) if isinstance(name, str) else name
    if plain in RENAMED and RENAMED[plain][0] in taken:
        ours, note = RENAMED[plain]
        text = f"{what} option {name!r} is Node's: prefork's is {ours!r} ({note})"
    elif plain in unsupported:
        text = f"the {name!r} option is not supported by prefork's client (it takes: {', '.join(sorted(taken))})"
    elif plain != name and plain in taken:
        unit = " (in seconds, where Node's is milliseconds)" if plain in SECONDS else ""
        text = f"{what} option {name!r} is Node's spelling: prefork's is {plain!r}{unit}"
    else:
        text = f"unknown option {name!r} of {what} (it takes: {', '.join(sorted(taken))})"
    err = TypeError(text)
    err.code = "ERR_INVALID_ARG_VALUE"
    return err
