"""The supervisor: binds, forks, watches and replaces workers; owns the signals."""


def counted(count, noun):
    """``1 worker``, ``2 workers``: a count in a log line or an answer, its noun agreeing."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
