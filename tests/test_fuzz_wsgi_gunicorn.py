"""Differential fuzz of the WSGI interface: prefork's daemon against gunicorn's (sync and
gthread workers, one each), on the same generated request streams over loopback: the
classifier, the CI tests and the ``__main__`` for campaigns. The app is in
tests/apps/fuzz_wsgi.py, the generator in tests/fuzz_wsgi_gunicorn_inputs.py, the driver
in tests/fuzz_wsgi_gunicorn.py; ``KNOWN``, the table of known differences, each with its
reason, and the classifier's helpers in tests/fuzz_wsgi_gunicorn_known.py. What no
known difference explains is a finding.

CI runs a seeded batch against each gunicorn worker (sync; gthread with one thread and
prefork's loop calls; gthread and prefork with four threads each); a long one:

    python tests/test_fuzz_wsgi_gunicorn.py --inputs 20000 --seed 1 --worker gthread [--threads 4]
"""

import argparse
import copy
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_wsgi_gunicorn import campaign, start_servers, stop_servers  # noqa: E402
from fuzz_wsgi_gunicorn_known import (KNOWN, fields, mask_connection, mask_environ, mask_response,  # noqa: E402
                                      mode_of, parse_error_after, refused_request, server_refusal)

CI_INPUTS = 1500  # per gunicorn worker kind (a few seconds each; the three together about 25 s)


def _pair(worker, case, index, theirs, mine, applied):
    """Compares one request's responses after masking what is known: "same", "cut"
    (the same up to here; what follows on the connection is not comparable) or None."""
    method, head, body, _ = case[index]
    line, head_fields = fields(head)
    if mine is not None and mine["status"] is None and theirs is not None and theirs["status"] is not None:
        mine = None  # prefork sent a 100, then closed: as if it had not answered at all
    if theirs is None or mine is None:  # one server's answers stop here
        if index and theirs is not None and theirs.get("server's") and theirs["status"] in (400, 417):
            applied.add("no error reply behind a response")  # (both refuse it: prefork closes)
            return "cut"
        name = theirs is not None and refused_request(line, head_fields, False, body)
        if name:  # one prefork refuses, behind a response: no error reply either
            applied.update((name, "no error reply behind a response"))
            return "cut"
        if theirs is not None and parse_error_after(case, index):
            applied.add("parse error ends the connection")
            return "cut"
        return None
    if theirs.get("server's") and mine.get("server's") and {theirs["status"], mine["status"]} == {400, 417} \
            and any(n == "expect" and v.lower() != "100-continue" for n, v in head_fields):
        applied.add("refusal order")
        return "cut"
    if theirs.get("server's") and mine.get("server's") and theirs["status"] == mine["status"] == 400 \
            and theirs["interim"] == [] and mine["interim"] == [100] \
            and (not dict(head_fields).get("transfer-encoding", "chunked").lower().endswith("chunked")
                 or refused_request(line, head_fields, False, body) == "chunk extension whitespace"):
        applied.add("100 before a body refused")
        return "cut"
    if theirs.get("server's") and theirs["status"] == 417 and mine["status"] != 417 \
            and sorted(v.lower() for n, v in head_fields if n == "expect") == ["100-continue", "foo"]:
        applied.add("repeated Expect")
        return "cut"
    script = dict(head_fields).get("script_name")
    if theirs.get("server's") and theirs["status"] == 500 and mine["status"] != 500 and script \
            and not line[1].startswith(script.encode("latin-1")):
        applied.add("forwarder headers")  # (a path outside that SCRIPT_NAME is gunicorn's error)
        return "cut"
    if mode_of(head_fields) == "str" and mine.get("server's") and mine["status"] == 500 and theirs["status"] == 200:
        applied.add("str block")
        return "cut"
    if mine.get("server's") and mine["status"] == 400 and theirs != mine and parse_error_after(case, index):
        applied.add("parse error ends the connection")  # (its 400 stands where this answer would)
        return "cut"
    if theirs["status"] is None or mine["status"] is None:  # a 1xx, then the connection closed
        return "same" if theirs == mine else None
    by_gunicorn = theirs.get("server's") and theirs["status"] in (400, 417) and mine["status"] != theirs["status"]
    by_prefork = mine.get("server's") and mine["status"] == 400 and theirs["status"] != 400
    if theirs.get("server's") != mine.get("server's") or by_gunicorn or by_prefork:
        by_gunicorn = by_gunicorn or (theirs.get("server's") and not mine.get("server's"))
        name = refused_request(line, head_fields, by_gunicorn, body)
        if name is None or not server_refusal(theirs if by_gunicorn else mine):
            return None
        applied.add(name)
        return "cut"
    if theirs.get("server's"):
        if theirs != mine:
            return None
        if theirs["status"] in (417, 500):
            applied.add(f"{theirs['status']} keeps the connection")
            return "cut"
        return "same"
    mode = mode_of(head_fields).partition(":")[0]
    cut = mask_connection(theirs, mine, line, head_fields, mode, worker, applied)
    if mode == "genraise" and method == b"HEAD":
        applied.add("HEAD iteration")  # (gunicorn closes after it, prefork serves on)
        cut = True
    if isinstance(theirs["body"], dict) and isinstance(mine["body"], dict):
        mask_environ(theirs["body"], mine["body"], head_fields, line, applied)
    mask_response(theirs, mine, method, mode_of(head_fields), applied)
    if theirs != mine:
        return None
    return "cut" if cut else "same"


def classify(worker):
    """The classifier of a campaign against gunicorn's ``worker``: "same", the names of
    the known differences (joined with "+") that make the outcomes agree, or None."""
    def decide(case, gun, ours):
        count = 1 if worker == "sync" else len(case)
        theirs_finals, ours_finals = gun.finals[:count], ours.finals[:count]
        if theirs_finals == ours_finals and (worker == "sync" or gun.closed == ours.closed):
            return "same"
        applied = set()
        for i in range(min(count, max(len(theirs_finals), len(ours_finals)))):
            theirs = copy.deepcopy(theirs_finals[i]) if i < len(theirs_finals) else None
            mine = copy.deepcopy(ours_finals[i]) if i < len(ours_finals) else None
            verdict = _pair(worker, case, i, theirs, mine, applied)
            if verdict is None:
                return None
            if verdict == "cut":
                break
        if not applied or not applied <= set(KNOWN):
            return None
        return "+".join(sorted(applied))
    return decide


def print_finding(case, gun, ours, out=print):
    out("FINDING " + repr([head + body for _, head, body, _ in case]))
    out(f"  gunicorn: {gun.finals} closed={gun.closed}")
    out(f"  prefork:  {ours.finals} closed={ours.closed}")


@pytest.fixture(scope="module", params=[("sync", 1), ("gthread", 1), ("gthread", 4)], ids=["sync", "gthread", "threads"])
def servers(request):
    pytest.importorskip("gunicorn")
    running = start_servers(*request.param)
    yield request.param[0], running
    stop_servers(running)


def test_wsgi_agrees_with_gunicorn(servers):
    worker, running = servers
    shown = []
    result = campaign(running, 41, CI_INPUTS, classify(worker), report=lambda *f: print_finding(*f, out=shown.append))
    assert result["inputs"] == CI_INPUTS
    assert not result["findings"], "\n".join(shown[:15])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--worker", choices=["sync", "gthread"], default="sync")
    ap.add_argument("--threads", type=int, default=1, help="threads per worker, both servers (gthread)")
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--show", type=int, default=10, help="findings to print")
    args = ap.parse_args()
    shown = [0]

    def report(*finding):
        if shown[0] < args.show:
            shown[0] += 1
            print_finding(*finding)
    running = start_servers(args.worker, args.threads)
    try:
        start = time.monotonic()
        result = campaign(running, args.seed, args.inputs, classify(args.worker), args.parallel, report)
        elapsed = time.monotonic() - start
    finally:
        stop_servers(running)
    known = {}  # each known difference, however many others came with it
    for names, count in result["known"].items():
        for name in names.split("+"):
            known[name] = known.get(name, 0) + count
    print(f"{result['inputs']} inputs (seed {args.seed}, gunicorn {args.worker}, {args.threads} thread(s)) in "
          f"{elapsed:.1f} s: {result['same']} identical, {len(result['findings'])} findings; known: "
          + ", ".join(f"{k} {v}" for k, v in sorted(known.items())))
    sys.exit(1 if result["findings"] else 0)


if __name__ == "__main__":
    main()
