"""Responses framed badly or oddly, from a raw server, on a keep-alive agent: each gives
the events Node's client gives (the parse error's code, or the response and its body).
Content-Length with Transfer-Encoding, a repeated or signed Content-Length, obs-fold, a
status line without a reason, HTTP/1.0 without a length, a flood of 103s; and a 101
without ``Upgrade`` and ``Connection: upgrade``, which switches nothing (llhttp's and
Node's rule): an ordinary response ending at its head, where prefork used to take any
101 for an upgrade and close the request without a response."""

import asyncio
import json
import time

import pytest

import prefork
from harness import node_events
from test_hostile_client import RawServer, read_head

REPLIES = {
    "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "te-cl": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "cl-twice-same": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "cl-twice-differs": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl-list": b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
    "cl-plus": b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
    "cl-minus": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
    "cl-spaces": b"HTTP/1.1 200 OK\r\nContent-Length:  5  \r\n\r\nhello",
    "cl-inner-space": b"HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\nhello",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 5\r\n\r\nhello",
    "no-reason": b"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello",
    "http10-no-length": b"HTTP/1.0 200 OK\r\n\r\nhello",
    "http10-keep-alive-no-length": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nhello",
    "103-flood": b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" * 3000
                 + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "101-no-upgrade": b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    "101-no-upgrade-length": b"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 5\r\n\r\n",
    # blank lines between messages (llhttp skips them) before a 1xx whose declared body
    # ends the parse at its head: the rest of the read starts after that head, not earlier
    "100-blank-lines-199-length": b"HTTP/1.1 100 Continue\r\n\r\n\r\n\r\nHTTP/1.1 199 X\r\nContent-Length: 5\r\n\r\n"
                                  b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "blank-lines-199-length": b"\r\n\r\nHTTP/1.1 199 X\r\nContent-Length: 5\r\n\r\n"
                              b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "100-split-blank-lines-199-length": [b"HTTP/1.1 100 Continue\r\n\r\n\r\n",
                                         b"\r\nHTTP/1.1 199 X\r\nContent-Length: 5\r\n\r\n"
                                         b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"],
}


def handler(conn, index):
    while True:
        head = read_head(conn)
        if not head:
            return
        name = head.split(b" ")[1].decode().strip("/")
        reply = REPLIES[name]
        for piece in reply if isinstance(reply, list) else [reply]:
            conn.sendall(piece)
            if isinstance(reply, list):
                time.sleep(0.05)  # (pieces in reads of their own, most of the time)
        if name.startswith("http10"):
            return  # the close ends the body


@pytest.fixture(scope="module")
def server():
    srv = RawServer(handler)
    yield srv
    srv.close()


# One request after another on one keep-alive agent; each is over at its 'close' (and
# its response's, when it had one), and a few loop turns later the next one starts.
NODE_FRAMING = r"""
const port = %(port)d, names = %(names)s, out = {};
const agent = new http.Agent({keepAlive: true});
const turns = (n, then) => n ? setImmediate(() => turns(n - 1, then)) : then();
const one = (i) => {
  if (i === names.length) { agent.destroy(); log(out); return done(); }
  const ev = out[names[i]] = [];
  let reqClosed = false, resClosed = false, infos = 0;
  const settle = () => { if (reqClosed && (!req.res || resClosed)) turns(3, () => one(i + 1)); };
  const req = http.get({host: '127.0.0.1', port, path: '/' + names[i], agent});
  req.on('information', (info) => { if (!infos++) ev.push(['information', info.statusCode]); });
  req.on('error', (e) => ev.push(['error', e.code]));
  req.on('upgrade', () => ev.push(['upgrade']));
  req.on('close', () => { if (infos) ev.push(['informations', infos]); ev.push(['close']); reqClosed = true; settle(); });
  req.on('response', (res) => {
    ev.push(['response', res.statusCode, res.statusMessage, res.httpVersion, res.rawHeaders]);
    let body = '';
    res.on('data', (d) => body += d);
    res.on('end', () => ev.push(['end', body]));
    res.on('aborted', () => ev.push(['aborted']));
    res.on('close', () => { ev.push(['res.close']); resClosed = true; settle(); });
  });
};
one(0);
"""


def prefork_framing(port, names):
    async def main():
        loop = asyncio.get_running_loop()
        agent = prefork.Agent()
        out = {}
        for name in names:
            ev = out[name] = []
            over = loop.create_future()
            state = {"req": False, "res": False, "infos": 0}
            req = prefork.get({"host": "127.0.0.1", "port": port, "path": "/" + name, "agent": agent})

            def settle(req=req, state=state, over=over):
                if state["req"] and (req.res is None or state["res"]) and not over.done():
                    over.set_result(None)

            def information(info, ev=ev, state=state):
                state["infos"] += 1
                if state["infos"] == 1:
                    ev.append(["information", info.status_code])

            def closed(ev=ev, state=state, settle=settle):
                if state["infos"]:
                    ev.append(["informations", state["infos"]])
                ev.append(["close"])
                state["req"] = True
                settle()

            def on_response(res, ev=ev, state=state, settle=settle):
                ev.append(["response", res.status_code, res.status_message, res.http_version, list(res.raw_headers)])
                body = []
                res.on("data", lambda d: body.append(d.decode()))
                res.on("end", lambda: ev.append(["end", "".join(body)]))
                res.on("aborted", lambda: ev.append(["aborted"]))
                res.on("close", lambda: (ev.append(["res.close"]), state.__setitem__("res", True), settle()))
            req.on("information", information)
            req.on("error", lambda e, ev=ev: ev.append(["error", e.code]))
            req.on("upgrade", lambda *a, ev=ev: ev.append(["upgrade"]))
            req.on("close", closed)
            req.on("response", on_response)
            await asyncio.wait_for(over, 4)
            for _ in range(3):
                await asyncio.sleep(0)
        agent.destroy()
        return out
    return asyncio.run(main())


def _same_closes(events):
    """Node orders the request's and the response's close either way for a socket that
    is not kept (test_client.py's _normalise): compared as a set."""
    return [e for e in events if e[0] not in ("close", "res.close")], \
        sorted(tuple(e) for e in events if e[0] in ("close", "res.close"))


def test_oddly_framed_responses_give_nodes_events(server):
    names = list(REPLIES)
    ours = prefork_framing(server.port, names)
    theirs = node_events(NODE_FRAMING % {"port": server.port, "names": json.dumps(names)})[0][0]
    assert theirs["101-no-upgrade"][0][:2] == ["response", 101]
    assert ["informations", 3000] in theirs["103-flood"]
    for name in names:
        assert _same_closes(ours[name]) == _same_closes(theirs[name]), name


def test_the_upgrade_head_after_1xx_and_blank_lines_holds_only_what_follows_the_101():
    """Blank lines after a 1xx (llhttp skips them) moved the end of the 101's head early:
    the ``upgrade`` listener got HTTP text before the tunnel's bytes."""
    def serve(conn, index):
        if read_head(conn):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n"
                         b"Connection: upgrade\r\nUpgrade: foo\r\n\r\nRAW")
            read_head(conn)  # (until the client goes)
    raw_server = RawServer(serve)
    try:
        async def main():
            got = asyncio.get_running_loop().create_future()
            req = prefork.request({"host": "127.0.0.1", "port": raw_server.port, "agent": False,
                                   "headers": {"Connection": "Upgrade", "Upgrade": "foo"}})
            req.on("upgrade", lambda res, sock, head: (got.set_result(bytes(head)), sock.destroy()))
            req.on("error", lambda err: got.done() or got.set_result(err))
            req.end()
            return await asyncio.wait_for(got, 5)
        assert asyncio.run(main()) == b"RAW"
    finally:
        raw_server.close()
