"""Writes to a response whose connection is gone, and the callbacks of writes around a
destroy, as Node 20 has them (each sequence runs in a coroutine listener; ``tick`` waits
a few milliseconds):
- a write after the response closed still gets its callback, even when the socket was
  corked by an earlier write at its destroy (the callback was never called);
- a write (or ``end(data)``) after the destroy does not fix the head: ``headers_sent``
  stays False and ``set_header`` still works;
- a write after ``end()`` whose response is destroyed (``destroy()``) before its turn
  gets no ``error`` (Node checks ``destroyed`` as it emits it); one whose socket is
  destroyed does (Node's response is destroyed only at its ``close``; Node emits that
  ``error`` after the ``finish``, prefork before it);
- the callback of a write whose bytes were in the kernel at the destroy runs after the
  ``destroy()`` call, before the ``finish``.
The same sequences run on Node's own server when Node is installed: the logs must match.
"""

import asyncio
import json
import socket
import subprocess

import pytest

from harness import NODE

SEQUENCES = {
    "write, destroy, later write": ["w", "d", "tick", "w"],
    "destroy, write, set_header": ["d", "w", "sh", "e"],
    "end, write, destroy": ["wh", "e0", "w0", "d"],
    "write, end, destroy": ["w", "e", "d"],
}

EXPECTED = {
    "write, destroy, later write": ["w true", "d 1", "wcb", "close", "tick", "w false", "wcb"],
    "destroy, write, set_header": ["d 0", "w false", "sh 0", "e 0", "wcb", "close"],
    "end, write, destroy": ["wh 1", "e0 1", "w0 false", "d 1", "finish", "close"],
    "write, end, destroy": ["w true", "e 1", "d 1", "wcb", "finish", "ecb", "close"],
}

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const ops = JSON.parse(process.argv[1]);
const log = [];
const server = http.createServer(async (req, res) => {
  res.on('finish', () => log.push('finish')); res.on('close', () => log.push('close'));
  res.on('error', (e) => log.push('error ' + e.code));
  for (const op of ops) {
    if (op === 'tick') { await new Promise((d) => setTimeout(d, 5)); log.push('tick'); continue; }
    let v;
    if (op === 'w') v = res.write('ab', () => log.push('wcb'));
    else if (op === 'w0') v = res.write('');
    else if (op === 'd') res.destroy();
    else if (op === 'xs') req.socket.destroy();
    else if (op === 'sh') res.setHeader('x-a', '1');
    else if (op === 'e') res.end('cd', () => log.push('ecb'));
    else if (op === 'e0') res.end();
    else if (op === 'wh') res.writeHead(201);
    log.push(op + ' ' + (typeof v === 'boolean' ? v : Number(res.headersSent)));
  }
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1');
  c.on('error', () => {});
  c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  c.resume();
  c.on('close', () => setTimeout(() => { console.log(JSON.stringify(log)); server.close(); }, 50));
});
"""


def run_prefork(serve, ops):
    log = []

    async def on_request(req, res):
        res.on("finish", lambda: log.append("finish"))
        res.on("close", lambda: (log.append("close"), st.record("close")))
        res.on("error", lambda err: log.append("error " + err.code))
        for op in ops:
            if op == "tick":
                await asyncio.sleep(0.005)
                log.append("tick")
                continue
            value = None
            if op == "w":
                value = res.write("ab", callback=lambda: log.append("wcb"))
            elif op == "w0":
                value = res.write("")
            elif op == "d":
                res.destroy()
            elif op == "xs":
                req.socket.destroy()
            elif op == "sh":
                res.set_header("x-a", "1")
            elif op == "e":
                res.end("cd", callback=lambda: log.append("ecb"))
            elif op == "e0":
                res.end()
            elif op == "wh":
                res.write_head(201)
            log.append(f"{op} {str(value).lower() if isinstance(value, bool) else int(res.headers_sent)}")
        st.record("done")
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
    st.wait_for(lambda e: e == ("done",))
    st.wait_for(lambda e: e == ("close",))
    st.call(lambda: None)  # (what the close turn left for the next turn has run)
    return st.call(list, log)


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_writes_around_a_destroy_go_as_in_node(serve, name):
    seen = run_prefork(serve, SEQUENCES[name])
    assert seen == EXPECTED[name], seen
    if NODE:
        run = subprocess.run([NODE, "-e", NODE_PROGRAM, json.dumps(SEQUENCES[name])],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout.strip().splitlines()[-1]) == seen


def test_a_write_after_end_whose_socket_is_destroyed_gets_its_error(serve):
    seen = run_prefork(serve, ["wh", "e0", "w0", "xs"])
    assert seen[:4] == ["wh 1", "e0 1", "w0 false", "xs 1"], seen
    assert sorted(seen[4:]) == ["close", "error ERR_STREAM_WRITE_AFTER_END", "finish"], seen
