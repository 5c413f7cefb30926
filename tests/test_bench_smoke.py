"""The benchmark suite starts a server the way it does for a run and parses wrk's output
(the benchmarks themselves are run by hand: docs/benchmarks.md)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_suite_smoke():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "suite.py"), "--smoke"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("smoke ok")
