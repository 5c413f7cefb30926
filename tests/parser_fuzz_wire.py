"""The parser's differential fuzz on the wire: the streams of tests/parser_fuzz_streams.py
to Node 20's ``http.createServer`` (tests/echo_server.js) and to prefork's event server
(tests/echo_server.py), both with their defaults (no clientError, upgrade or connect
listener) and the same echo app, over loopback TCP, the same writes with the same short
pauses. Compared per stream: the bytes written back (status lines, fields, the echoed
method, url, version, raw headers, headers map, body length, raw trailers and trailers
map of each request; Date
masked), whether the server closed the connection, and the request events. Differences
documented in docs/node-compat.md and docs/parser-notes.md are recognised by
tests/fuzz_server_node.py's ``known_difference`` and counted apart.

    python tests/parser_fuzz_wire.py --inputs 20000 --seed 1
"""

import argparse
import asyncio
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fuzz_server_node as wire  # noqa: E402
from parser_fuzz_streams import streams  # noqa: E402

# the servers' listeners, in the reference servers' config words
CONFIG = {"unlisten": ["clientError", "upgrade", "connect", "checkContinue", "checkExpectation"]}


class EchoTwin(wire.Twin):
    async def start(self, timeout=15.0):
        if self.kind == "node":
            cmd = [wire.NODE, os.path.join(HERE, "echo_server.js")]
        else:
            cmd = [sys.executable, os.path.join(HERE, "echo_server.py")]
        self._changed = asyncio.Condition()
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=1 << 22)
        self._tasks = [asyncio.ensure_future(self._read_events()), asyncio.ensure_future(self._read_stderr())]
        await self._wait(lambda: self.port is not None, timeout)


_PROXY_CONNECTION = re.compile(rb"(?im)^proxy-connection:")
_EMPTY_TE = re.compile(rb"(?im)^transfer-encoding:[ \t]*\r?$")


def known(case, node, ours):
    """A documented difference that explains the mismatch, or None. llhttp reads
    Proxy-Connection as Connection (docs/parser-notes.md): the stream is looked at with
    one read as the other."""
    writes, data, half_close = case
    mine = wire.responses(ours)
    if mine and mine[-1].startswith(b"HTTP/1.1 400 ") and b"Date: " not in mine[-1]:
        mine = mine[:-1]  # (the canned reply to a parse error)
    if _EMPTY_TE.search(data) and ours.closed and wire.responses(node)[:len(mine)] == mine:
        # parser-notes "Empty Transfer-Encoding": refused by prefork (a 400, or the
        # connection closed when a response is pending), accepted by Node; with no
        # clientError listener the code is not on the wire
        return "empty-transfer-encoding"
    return wire.known_difference((writes, _PROXY_CONNECTION.sub(b"Connection:", data), half_close),
                                 node, ours, CONFIG)


_TAB_TOKEN = re.compile(rb"(?im)^(proxy-)?connection:[^\r\n]*\t")


def known_parse_difference(data, node, ours):
    """tests/test_fuzz.py's ``known_difference`` for one stream read by the two parsers,
    with a Proxy-Connection token followed by a tab read as a Connection one."""
    import test_fuzz
    if _TAB_TOKEN.search(data):
        data = _PROXY_CONNECTION.sub(b"Connection:", data)
    return test_fuzz.known_difference(data, node, ours)


async def _campaign(cases, parallel, pause, idle, deadline):
    twins = (EchoTwin("node", {}), EchoTwin("prefork", {}))
    result = {"inputs": 0, "same": 0, "known": {}, "unstable": 0, "findings": []}
    try:
        await asyncio.gather(*(t.start() for t in twins))
        pending = iter(cases)
        differing = []

        async def worker():
            for case in pending:
                if time.monotonic() > deadline:
                    return
                result["inputs"] += 1
                node, ours = await wire.drive_both(twins, case, pause, idle)
                if node.key() == ours.key():
                    result["same"] += 1
                else:
                    differing.append(case)
        await asyncio.gather(*(worker() for _ in range(parallel)))
        for case in differing:
            node, ours = await wire.drive_both(twins, case, pause * 10, idle * 2)
            if node.key() == ours.key():
                result["unstable"] += 1
                continue
            name = known(case, node, ours)
            if name is not None:
                result["known"][name] = result["known"].get(name, 0) + 1
                continue
            result["findings"].append((case, node, ours))
        for twin in twins:
            if not twin.alive():
                result["findings"].append((None, f"the {twin.kind} server died", bytes(twin.stderr[-2000:])))
        result["server_errors"] = [line for line in bytes(twins[1].stderr).decode("latin-1").splitlines()
                                   if "Traceback" in line or "internal error" in line]
    finally:
        await asyncio.gather(*(t.stop() for t in twins))
    return result


def run_cases(cases, parallel=12, pause=0.004, idle=0.25, seconds=3600.0):
    """Each case is (writes, data, half_close); a summary dict: inputs, same, known
    {name: count}, unstable, findings [(case, node outcome, our outcome)], server_errors."""
    return asyncio.run(_campaign(list(cases), parallel, pause, idle, time.monotonic() + seconds))


def run(seed, count, **kwargs):
    return run_cases(((w, d, False) for w, d in streams(seed, count)), **kwargs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--parallel", type=int, default=12)
    ap.add_argument("--show", type=int, default=10)
    args = ap.parse_args()
    start = time.monotonic()
    result = run(args.seed, args.inputs, parallel=args.parallel)
    for case, node, ours in result["findings"][:args.show]:
        if case is None:
            print("FINDING:", node, ours)
        else:
            print(f"FINDING writes={case[0]!r}\n  node: {node.show()}\n  ours: {ours.show()}", flush=True)
    print(f"{result['inputs']} inputs (seed {args.seed}) in {time.monotonic() - start:.0f} s: same {result['same']}, "
          f"known {result['known']}, unstable {result['unstable']}, findings {len(result['findings'])}, "
          f"server errors {result['server_errors'][:5]}")


if __name__ == "__main__":
    main()
