"""A USR2 re-exec starts the master's counters again; its ``process_start_time_seconds``
is the new program's start, so a scraper sees the restart (it stayed the process's
first start: a reset that a scrape happened to miss was invisible to ``increase()``)."""

import signal
import time

from daemon import Daemon


def start_time(d):
    return d.scrape()[("process_start_time_seconds", ())]


def test_a_usr2_re_exec_moves_the_start_time_on():
    d = Daemon(workers=1)
    try:
        d.wait_ready()
        before = start_time(d)
        assert start_time(d) == before  # (stable between scrapes of one master program)
        sent = time.time()
        d.signal(signal.SIGUSR2)
        d.wait_log(r"workers ready", count=2, timeout=15)
        after = start_time(d)
        assert before < sent <= after + 0.01, (before, sent, after)  # (the kernel's clock ticks are 10 ms)
        d.signal(signal.SIGTERM)
        assert d.wait_exit() == 0
    finally:
        d.cleanup()
