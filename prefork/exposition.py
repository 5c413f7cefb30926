"""The master's metrics in Prometheus's text format, written without prometheus_client.

Rules:
- Importing any part of prometheus_client imports its HTTP server stack (http.server,
  wsgiref, urllib, email, ...): about 5 MB in the master, and in every worker forked
  from it, whose RSS counts the pages it shares with the master. The master's metrics
  are a fixed set of families, so this module writes them (prometheus_client stays the
  tests' parser and checker).
- The output is the text format as prometheus_client writes it (Prometheus's classic
  exposition format): ``# HELP`` and ``# TYPE`` lines per family, a counter's samples
  named ``_total``, a histogram's ``_bucket{le=…}`` (cumulative, ``+Inf`` last),
  ``_count`` and ``_sum``. Help text escapes backslash and newline; label values
  escape backslash, double quote and newline. Values are floats in Python's ``repr``
  (``+Inf``, ``-Inf``, ``NaN`` for the others).
- A scraper that accepts OpenMetrics (``Accept: application/openmetrics-text``, as
  Prometheus and prometheus_client's own server negotiate it; ``negotiate``) gets the
  same families in that format: a counter's ``# HELP``/``# TYPE`` name without its
  ``_total``, help text escaping the double quote too, and ``# EOF`` last. Any other
  Accept gets the classic text format.
- ``process_families`` gives the master's own ``process_*`` gauges and counter from
  /proc, the set prometheus_client's process collector gives; the master's start time
  is its program's (a USR2 re-exec starts every counter again: the new start time is
  how a scraper sees it).
"""

import math
import os
import resource

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class Family:
    """One metric family: ``add(label_values, value)`` per sample."""

    def __init__(self, name, kind, help_text, labels=()):
        self.name = name + "_total" if kind == "counter" else name
        self.kind = kind  # counter, gauge or histogram
        self.help = help_text
        self.labels = tuple(labels)
        self.samples = []  # (name suffix, ((label, value), ...), value)

    def add(self, label_values=(), value=0.0):
        self.samples.append(("", tuple(zip(self.labels, label_values)), value))
        return self

    def histogram(self, buckets, total):
        """``buckets``: [(upper bound text, cumulative count)], ``+Inf`` last."""
        for bound, count in buckets:
            self.samples.append(("_bucket", (("le", bound),), count))
        self.samples.append(("_count", (), buckets[-1][1] if buckets else 0))
        self.samples.append(("_sum", (), total))
        return self


def counter(name, help_text, value=None, labels=()):
    family = Family(name, "counter", help_text, labels)
    return family.add((), value) if value is not None else family


def gauge(name, help_text, value=None, labels=()):
    family = Family(name, "gauge", help_text, labels)
    return family.add((), value) if value is not None else family


def number(value):
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _label_value(text):
    return str(text).replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def negotiate(accept):
    """Whether an ``Accept`` header's text asks for OpenMetrics: one of its media ranges
    is ``application/openmetrics-text`` with a weight above 0."""
    for media in (accept or "").lower().split(","):
        kind, *params = media.split(";")
        if kind.strip() != "application/openmetrics-text":
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if weight > 0:
            return True
    return False


def render(families, openmetrics=False):
    """The exposition text of ``families`` as bytes: Prometheus's classic text format,
    or OpenMetrics 1.0.0 (``openmetrics``)."""
    out = []
    for family in families:
        help_text = family.help.replace("\\", r"\\").replace("\n", r"\n")
        title = family.name
        if openmetrics:
            help_text = help_text.replace('"', r'\"')
            if family.kind == "counter":
                title = title[:-len("_total")]
        out.append(f"# HELP {title} {help_text}\n# TYPE {title} {family.kind}\n")
        for suffix, labels, value in family.samples:
            text = ",".join(f'{name}="{_label_value(label)}"' for name, label in labels)
            out.append(f"{family.name}{suffix}{{{text}}} {number(value)}\n" if text
                       else f"{family.name}{suffix} {number(value)}\n")
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")


def process_families(pid="self", started=None):
    """The ``process_*`` metrics of a process (the master's own by default), from /proc;
    ``started``: the start time to give (the program's, which a re-exec renews; the
    kernel's stays the process's first)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/stat") as fh:
            boot = next(float(line.split()[1]) for line in fh if line.startswith("btime "))
    except (OSError, IndexError, ValueError, StopIteration):
        return []
    ticks = os.sysconf("SC_CLK_TCK")
    families = [
        gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", float(fields[20])),
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              float(fields[21]) * os.sysconf("SC_PAGE_SIZE")),
        gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
              float(fields[19]) / ticks + boot if started is None else started),
        counter("process_cpu_seconds", "Total user and system CPU time spent in seconds.",
                (float(fields[11]) + float(fields[12])) / ticks),
    ]
    try:
        families.append(gauge("process_open_fds", "Number of open file descriptors.",
                              len(os.listdir(f"/proc/{pid}/fd"))))
    except OSError:
        pass
    if pid == "self":
        families.append(gauge("process_max_fds", "Maximum number of open file descriptors.",
                              resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
    return families
