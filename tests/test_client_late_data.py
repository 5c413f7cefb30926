"""A ``data`` listener added a loop turn after the response (Node's ``setImmediate``,
prefork's ``call_soon``) on a socket that closed meanwhile, against Node v20's client.

Node's socket closes in libuv's close phase, after the ``setImmediate`` callbacks and
the ticks they queue: that late reader gets the kept chunks (and a complete body's
``end``) before the request's ``close``, and a body cut short is aborted only after it
read what came. A raw socket server answers ``/<n>`` with case n's bytes, then its FIN;
Node's client (a node script) and prefork's run every case one after the other with the
same listeners, and the events must be the same (but for the parse error Node
gives for bytes after a complete response, a documented difference).
"""

import asyncio

import pytest

import prefork
from case_server import both_events, case_request
from harness import NODE

# (the response's bytes, the agent: "keep" or "none"). (A reset right after the bytes is no
# case: libuv may read it as the end where a second read here says ECONNRESET.)
CASES = [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", "keep"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", "none"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", "none"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n", "keep"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "keep"),  # cut short
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n", "keep"),  # cut short
    (b"HTTP/1.1 200 OK\r\n\r\nclose-delimited", "keep"),
    # (Transfer-Encoding past the fields Node keeps: the body is still chunked, cut short)
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(1100)) +
     b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n", "keep"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n\r\n", "keep"),  # unasked
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 1\r\n\r\nb", "keep"),  # a byte after it
]


# (Node's side: NODE_CASES, cases[n] the agent)
NODE_EXCHANGE = r"""
const exchange = (n) => {
  const log = (...e) => events.push([n, ...e]);
  const agent = cases[n] === 'keep' ? new http.Agent({ keepAlive: true }) : false;
  const req = http.get({ host: '127.0.0.1', port, path: '/' + n, agent });
  let reqClosed = false;
  let resClosed = false;
  const next = () => {
    if (reqClosed && (!req.res || resClosed)) setTimeout(() => { if (agent) agent.destroy(); one(n + 1); }, 20);
  };
  req.on('error', (e) => log('error', e.code));
  req.on('close', () => { log('close'); reqClosed = true; next(); });
  req.on('response', (res) => {
    log('response', res.statusCode);
    setImmediate(() => res.on('data', (d) => log('data', d.toString('latin1'))));
    res.on('end', () => log('res.end', res.rawTrailers));
    res.on('aborted', () => log('res.aborted'));
    res.on('error', (e) => log('res.error', e.code));
    res.on('close', () => { log('res.close'); resClosed = true; next(); });
  });
};
"""


def _late_reader(port, n, log, over):
    """Case n's exchange: the ``data`` listener added a loop turn after the response;
    returns the agent's ``destroy`` for after the exchange (as Node's script)."""
    agent = prefork.Agent(keep_alive=True) if CASES[n][1] == "keep" else False
    req = case_request(port, n, agent)
    state = {"req": False, "res": False}

    def settle():
        if state["req"] and (req.res is None or state["res"]):
            over()

    def on_close():
        log("close")
        state["req"] = True
        settle()

    def on_response(res):
        log("response", res.status_code)
        asyncio.get_running_loop().call_soon(res.on, "data", lambda d: log("data", d.decode("latin-1")))
        res.on("end", lambda: log("res.end", res.raw_trailers))
        res.on("aborted", lambda: log("res.aborted"))
        res.on("error", lambda e: log("res.error", e.code))

        def on_res_close():
            log("res.close")
            state["res"] = True
            settle()
        res.on("close", on_res_close)
    req.on("error", lambda e: log("error", e.code))
    req.on("close", on_close)
    req.on("response", on_response)
    req.end()
    return agent.destroy if agent else None


def _without_error_after_end(events, ours):
    """Node's events without its parse error for bytes after a complete response
    (docs/node-compat.md: prefork gives none), when ours have no such error."""
    if any(e[1] == "error" and str(e[2]).startswith("HPE_") for e in ours):
        return events
    return [e for e in events if not (e[1] == "error" and str(e[2]).startswith("HPE_"))]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_a_late_reader_reads_before_the_close_as_in_node():
    # (the pause after each case as Node's script's: late events would be logged)
    ours, node = both_events(CASES, _late_reader, NODE_EXCHANGE, pause=0.02)
    for n in range(len(CASES)):
        mine = [e for e in ours if e[0] == n]
        theirs = _without_error_after_end([e for e in node if e[0] == n], mine)
        assert mine == theirs, f"case {n}: {CASES[n][0][:100]!r}"
