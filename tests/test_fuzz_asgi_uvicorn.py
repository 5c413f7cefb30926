"""Differential fuzz of the ASGI interface, prefork against uvicorn, on generated request
streams over loopback: the CI tests and the ``__main__`` for campaigns. The app is in
tests/apps/fuzz_asgi.py, the generator in tests/fuzz_asgi_uvicorn_inputs.py, the driver
in tests/fuzz_asgi_uvicorn.py. ``KNOWN``: the differences that are uvicorn's or
prefork's documented choices, each a rule that edits both outcomes only where its exact
condition holds, with its reason (the HTTP rules in tests/fuzz_asgi_uvicorn_known.py,
the WebSocket ones in tests/fuzz_asgi_uvicorn_known_ws.py, those of uvicorn's
``--ws websockets`` implementation in tests/fuzz_asgi_uvicorn_known_websockets.py). What no rule explains is a
finding. The outcomes' shapes: ``answers`` (each response parsed: status, reason,
headers with Date masked, framing, body; for a WebSocket the 101 and the server's
frames), ``closed``, ``app`` (one record per app call: its scope, the messages it
received, what its sends raised).

CI runs a seeded batch of 1000 inputs (about 15 s); a long campaign:

    python tests/test_fuzz_asgi_uvicorn.py --inputs 5000 --seed 1 [--ws websockets]

and one input of a campaign again (its id as the finding shows it):

    python tests/test_fuzz_asgi_uvicorn.py --seed 99173 --only 99173-2416 [--repeat 1500 --parallel 96]
"""

import argparse
import asyncio
import copy
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzz_asgi_uvicorn import Peer, outcome  # noqa: E402
from fuzz_asgi_uvicorn_inputs import inputs  # noqa: E402
from fuzz_asgi_uvicorn_known import KNOWN_HTTP, dumps_in  # noqa: E402
from fuzz_asgi_uvicorn_known_ws import KNOWN_WS  # noqa: E402
from fuzz_asgi_uvicorn_known_websockets import KNOWN_WEBSOCKETS, KNOWN_WEBSOCKETS_FIRST  # noqa: E402

pytest.importorskip("uvicorn")
pytest.importorskip("httptools")
CI_INPUTS = 1000


# the known differences, in the order they are applied; each edits both outcomes only
# where its exact condition holds and says whether it did
KNOWN = KNOWN_WEBSOCKETS_FIRST + KNOWN_HTTP + KNOWN_WS + KNOWN_WEBSOCKETS


def classify(item, pre, uvi):
    """None if equal; else the names of the KNOWN rules that make them equal, or False."""
    if pre == uvi:
        return None
    pre, uvi = copy.deepcopy(pre), copy.deepcopy(uvi)
    list(dumps_in(pre)), list(dumps_in(uvi))
    used = [rule.__name__ for rule in KNOWN if rule(item, pre, uvi)]
    return used if pre == uvi else False


async def run_async(seed, count, parallel=8, ws="wsproto", report=print, root_path="", only=None, repeat=1):
    peers = [Peer("prefork", root_path=root_path), Peer("uvicorn", ws, root_path)]
    for peer in peers:
        peer.start()
    # same_app: inputs whose app records (scopes, messages, what sends raised) were equal
    # before any known difference was applied, so the comparison is not vacuous
    result = {"inputs": 0, "same": 0, "same_app": 0, "known": {}, "findings": [], "unstable": 0}
    try:
        gate = asyncio.Semaphore(parallel)

        async def one(item):
            item["uvicorn_ws"] = ws  # (the rules for uvicorn's WebSocket implementation read it)
            async with gate:
                pre, uvi = await asyncio.gather(*(outcome(peer, item) for peer in peers))
            verdict = classify(item, pre, uvi)
            if verdict is False:  # again, alone, to tell a timing effect from a finding
                second = again(item)
                async with lock:
                    pre, uvi = await asyncio.gather(*(outcome(peer, second, slow=True) for peer in peers))
                verdict = classify(second, pre, uvi)
                if verdict is False:
                    result["findings"].append((item, pre, uvi))
                    report(item, pre, uvi)
                    return
                result["unstable"] += 1
            result["inputs"] += 1
            result["same_app"] += bool(pre["app"]) and pre["app"] == uvi["app"]
            if verdict is None:
                result["same"] += 1
            for name in verdict or ():
                result["known"][name] = result["known"].get(name, 0) + 1
        lock = asyncio.Lock()
        await asyncio.gather(*(one(item) for item in chosen(seed, count, only, repeat)))
        result["alive"] = all(peer.alive() for peer in peers)
    finally:
        for peer in peers:
            peer.stop()
    return result


def renamed(item, suffix):
    """``item`` under the id with ``suffix`` (its X-Fuzz-Id lines too), the same bytes
    otherwise, cut where it was cut."""
    old = b"X-Fuzz-Id: %s\r\n" % item["id"].encode()
    new = b"X-Fuzz-Id: %s%s\r\n" % (item["id"].encode(), suffix.encode())
    stream, steps, at = b"".join(item["steps"]), [], 0
    for step in item["steps"]:  # each cut after as many renamed lines as before it
        end = at + len(step)
        shift = lambda n: n + (len(new) - len(old)) * stream.count(old, 0, n)  # noqa: E731
        steps.append(stream.replace(old, new)[shift(at):shift(end)])
        at = end
    return dict(item, steps=steps, id=item["id"] + suffix)


def again(item):
    """``item`` for the second look, under another id: an app call of the first look that
    a loaded server ended after ``settle``'s deadline records under the first id, not
    among the second's records (one call more on one side)."""
    return renamed(item, "-again")


def chosen(seed, count, only, repeat):
    """The inputs to run: all, or those whose ids are in ``only``, each ``repeat`` times
    under ids of their own (at once: a finding of a loaded server shows again)."""
    for item in inputs(seed, count):
        if only is None:
            yield item
        elif item["id"] in only:
            yield from (renamed(item, f"-r{n}") if repeat > 1 else item for n in range(repeat))


def run(seed, count, parallel=8, ws="wsproto", report=print, root_path="", only=None, repeat=1):
    return asyncio.run(run_async(seed, count, parallel, ws, report, root_path, only, repeat))


def test_fuzz_matches_uvicorn():
    """A seeded batch: every input identical on both servers or a known difference."""
    findings = []
    result = run(1, CI_INPUTS, report=lambda *finding: findings.append(finding))
    for finding in findings[:3]:
        show(*finding)
    assert not findings, f"{len(findings)} inputs differ from uvicorn (shown above)"
    assert result["alive"]
    assert result["same_app"] > CI_INPUTS // 3  # the comparison is not vacuous


def test_fuzz_matches_uvicorn_with_root_path():
    """A smaller batch with root_path set on both (the scope's path and raw_path start with it)."""
    findings = []
    result = run(2, CI_INPUTS // 4, report=lambda *finding: findings.append(finding), root_path="/api")
    for finding in findings[:3]:
        show(*finding)
    assert not findings, f"{len(findings)} inputs differ from uvicorn (shown above)"
    assert result["alive"] and result["same_app"] > CI_INPUTS // 12


def test_fuzz_matches_uvicorn_on_websockets():
    """A smaller batch against uvicorn's ``--ws websockets`` implementation, whose own
    differences are the rules of tests/fuzz_asgi_uvicorn_known_websockets.py."""
    findings = []
    result = run(3, CI_INPUTS // 2, ws="websockets", report=lambda *finding: findings.append(finding))
    for finding in findings[:3]:
        show(*finding)
    assert not findings, f"{len(findings)} inputs differ from uvicorn --ws websockets (shown above)"
    assert result["alive"] and result["same_app"] > CI_INPUTS // 6


def show(item, pre, uvi):
    print("--- input", item["id"], json.dumps([s[:600].decode("latin-1") for s in item["steps"]]),
          "half-close" * item["half_close"])
    for key in ("answers", "closed", "app"):
        if pre[key] != uvi[key]:
            print("  ", key, "\n    prefork:", json.dumps(pre[key])[:1500], "\n    uvicorn:", json.dumps(uvi[key])[:1500])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--ws", default="wsproto", choices=["wsproto", "websockets"])
    parser.add_argument("--show", type=int, default=10)
    parser.add_argument("--root-path", default="", help="root_path for both servers")
    parser.add_argument("--only", action="append", metavar="ID",
                        help="run only the input with this id (SEED-N, as a finding shows it; may be repeated); "
                             "the inputs before it are generated, not run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="with --only: run each such input this many times at once (a finding of a loaded server)")
    args = parser.parse_args()
    shown = [0]

    def report(*finding):
        if shown[0] < args.show:
            shown[0] += 1
            show(*finding)
    start = time.monotonic()
    only = set(args.only) if args.only else None
    if only:  # the generator must reach the highest of them
        args.inputs = max(args.inputs, max(int(rid.rpartition("-")[2]) for rid in only) + 1)
    result = run(args.seed, args.inputs, args.parallel, args.ws, report, args.root_path, only, args.repeat)
    print(f"{len(only) * args.repeat if only else args.inputs} inputs (seed {args.seed}, uvicorn --ws {args.ws}) in {time.monotonic() - start:.1f} s: "
          f"{result['same']} identical ({result['same_app']} with the same app records), {len(result['findings'])} findings, {result['unstable']} unstable; "
          f"known: {result['known'] or 'none'}; servers alive: {result.get('alive')}")
    sys.exit(1 if result["findings"] or not result.get("alive") else 0)


if __name__ == "__main__":
    main()
