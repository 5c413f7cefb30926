"""The ``signal`` option (an AbortController's signal, as Node's ``http.request`` takes
one): an abort destroys the request with an AbortError (ABORT_ERR, its ``cause`` the
reason) at every stage (aborted before the request, right after it, at its ``socket``,
in its ``response`` listener, by ``AbortSignal.timeout``), with the same events as
Node's client against the same raw server; ``await req`` raises it; the request lets
go of the signal at its ``close``."""

import asyncio
import json
import subprocess

import pytest

import prefork
from harness import need_node
from prefork.client import AbortController, AbortError, AbortSignal
from test_hostile_client import RawServer, read_head

HOWS = ["pre", "sync", "sock", "resp", "timeout"]

NODE_SCRIPT = r"""
const http = require('http');
const port = +process.argv[1];
function go(how) { return new Promise((r) => {
  const ac = new AbortController();
  const signal = how === 'timeout' ? AbortSignal.timeout(100) : ac.signal;
  if (how === 'pre') ac.abort();
  const log = (...a) => console.log(JSON.stringify([how, ...a]));
  const req = http.request({port, host: '127.0.0.1', path: '/' + how, signal, agent: false}, (res) => {
    log('response');
    res.on('end', () => log('res.end'));
    res.on('aborted', () => log('res.aborted'));
    res.on('error', (e) => log('res.error', e.code, e.message));
    res.on('close', () => { log('res.close'); r(); });
    if (how === 'resp') ac.abort('why');
  });
  req.on('socket', () => { log('socket'); if (how === 'sock') ac.abort(); });
  req.on('abort', () => log('abort'));
  req.on('error', (e) => log('error', e.code, e.name, e.message, typeof e.cause === 'string' ? e.cause : e.cause.name));
  req.on('close', () => { log('close', req.destroyed); if (how !== 'resp') r(); });
  req.end();
  if (how === 'sync') ac.abort();
}); }
(async () => { for (const how of JSON.parse(process.argv[2])) await go(how); })();
"""


def answer(conn, index):
    """A head and 2 of the 10 bytes it announces for /resp; nothing for the others; then
    wait for the client to close."""
    head = read_head(conn)
    if head and head.startswith(b"GET /resp "):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
    while conn.recv(65536):
        pass


def prefork_events(port):
    lines = []

    async def go(how):
        done = asyncio.get_running_loop().create_future()
        ac = AbortController()
        signal = AbortSignal.timeout(0.1) if how == "timeout" else ac.signal
        if how == "pre":
            ac.abort()

        def log(*args):
            lines.append([how, *args])

        def settle(*_):
            if not done.done():
                done.set_result(None)

        def on_response(res):
            log("response")
            res.on("end", lambda: log("res.end"))
            res.on("aborted", lambda: log("res.aborted"))
            res.on("error", lambda e: log("res.error", e.code, str(e)))
            res.on("close", lambda: (log("res.close"), settle()))
            if how == "resp":
                ac.abort("why")

        req = prefork.request({"port": port, "host": "127.0.0.1", "path": "/" + how, "signal": signal,
                               "agent": False}, on_response)
        req.on("socket", lambda s: (log("socket"), how == "sock" and ac.abort()))
        req.on("abort", lambda: log("abort"))
        req.on("error", lambda e: log("error", e.code, e.name, str(e),
                                      e.cause if isinstance(e.cause, str) else type(e.cause).__name__))
        req.on("close", lambda: (log("close", req.destroyed), how != "resp" and settle()))
        req.end()
        if how == "sync":
            ac.abort()
        await asyncio.wait_for(done, 10)
        assert signal.listener_count("abort") == 0  # let go at 'close'

    async def main():
        for how in HOWS:
            await go(how)
    asyncio.run(main())
    return lines


def normalise(lines):
    """Node's reasons are DOMExceptions (AbortError, TimeoutError), Python's exceptions here."""
    return [line[:-1] + ["Error"] if line[1] == "error" and line[-1] != "why" else line for line in lines]


def test_an_aborted_signal_destroys_the_request_as_node():
    node = need_node()
    srv = RawServer(answer)
    try:
        out = subprocess.run([node, "-e", NODE_SCRIPT, "--", str(srv.port),
                              json.dumps(HOWS)], capture_output=True, timeout=30, text=True)
        ours = prefork_events(srv.port)
    finally:
        srv.close()
    theirs = [json.loads(line) for line in out.stdout.splitlines()]
    assert normalise(ours) == normalise(theirs), out.stderr
    assert ["resp", "error", "ABORT_ERR", "AbortError", "The operation was aborted", "why"] in ours


def test_await_raises_the_abort_error_and_a_bad_signal_is_refused():
    srv = RawServer(answer)
    try:
        async def main():
            ac = AbortController()
            req = prefork.request({"port": srv.port, "host": "127.0.0.1", "path": "/", "signal": ac.signal,
                                   "agent": False})
            req.end()
            asyncio.get_running_loop().call_later(0.05, ac.abort)
            with pytest.raises(AbortError) as info:
                await asyncio.wait_for(req, 10)
            assert info.value.code == "ABORT_ERR"
            with pytest.raises(TypeError) as info:
                prefork.request({"port": srv.port, "signal": {}})
            assert info.value.code == "ERR_INVALID_ARG_TYPE"
        asyncio.run(main())
    finally:
        srv.close()
