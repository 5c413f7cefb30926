"""How the master says a worker's death in its log.

Rules:
- A death is said by its wait status (``exit status N``, ``signal NAME``).
- A worker that had reported ready says how long it lived; one that never did says it
  died while booting (its age, often 0.0 s, would read as a crash at once).
- A SIGKILL the master did not send is said so, with the OOM killer named as the likely
  sender (gunicorn's "Perhaps out of memory?").
"""

import os
import signal

OUTSIDE_KILL = "; it was not killed by the master: out of memory? (see the kernel log, dmesg)"  # as gunicorn hints


def exit_description(status):
    """``exit status N`` or ``signal NAME`` for a wait status."""
    code = os.waitstatus_to_exitcode(status)
    return f"exit status {code}" if code >= 0 else f"signal {signal.Signals(-code).name}"


def replacing(worker, how, lived, delay, failures, killed_outside):
    """The line for ``worker``'s death (``how``: ``exit_description``) and its replacement
    in ``delay`` seconds (0: at once), the slot's ``failures``-th quick death."""
    when = f"after {lived:.1f} s" if worker.ready else "while booting"
    later = f" in {delay:.1f} s (quick death #{failures})" if delay else ""
    return (f"worker {worker.slot} (pid {worker.pid}) died ({how}) {when}; replacing it{later}"
            f"{OUTSIDE_KILL if killed_outside else ''}")
