"""The same program on Node's http module and on prefork, side by side.

A journey scenario is a pair: a JavaScript body run with ``server`` (an
``http.Server``), ``http`` and ``log`` in scope, and a Python function
``setup(server, log)`` (see ``journey_server.py``) that ports it to prefork. Both
servers print one JSON line per ``log(ev, ...)`` call; the raw-byte exchange of
``harness.exchange`` then runs against each, and the tests compare bytes (Date masked),
the connection's fate and the logged events.
"""

import os
import subprocess
import sys
import threading

from harness import HERE, NODE, RefServer, exchange  # noqa: F401  (exchange is re-exported)

NODE_MAIN = r"""
'use strict';
const http = require('http');
const net = require('net');
const t0 = Date.now();
function log(ev, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ ev }, fields || {}, { t: Date.now() - t0 })) + '\n');
}
const server = http.createServer();
server.on('connection', (s) => log('accept', { port: s.remotePort, conn: 0 }));
(function (server, http, net, log) { %s })(server, http, net, log);
process.stdin.setEncoding('utf8');
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  let i;
  while ((i = pending.indexOf('\n')) >= 0) {
    const cmd = pending.slice(0, i).trim();
    pending = pending.slice(i + 1);
    if (cmd === 'sync') log('sync');
    else if (cmd === 'exit') process.exit(0);
    else if (cmd === 'close') server.close(() => log('close.cb'));
    else if (cmd === 'closeIdle') server.closeIdleConnections();
    else if (cmd === 'closeAll') server.closeAllConnections();
  }
});
process.stdin.on('end', () => process.exit(0));
server.listen(0, '127.0.0.1', () => log('listening', { port: server.address().port }));
"""


class Program(RefServer):
    """One server process running a journey program: ``kind`` 'node' (``source`` is
    JavaScript) or 'prefork' (``source`` is 'module:function' under tests/)."""

    def __init__(self, kind, source):
        env = dict(os.environ)
        if kind == "node":
            cmd = [NODE, "-e", NODE_MAIN % source]
        else:
            cmd = [sys.executable, os.path.join(HERE, "journey_server.py"), source]
        self.kind = kind
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.events = []
        self._cond = threading.Condition()
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.port = self.wait_for(lambda e: e["ev"] == "listening", 15)["port"]

    def logged(self, start=0):
        """The program's own events (not the harness's), without times."""
        with self._cond:
            return [{k: v for k, v in e.items() if k not in ("t", "conn")}
                    for e in self.events[start:] if e["ev"] not in ("accept", "listening", "sync")]


def run_both(js, py, steps, window=0.5, until=None):
    """(node result, prefork result, node events, prefork events) for one scenario."""
    out = []
    for kind, source in (("node", js), ("prefork", py)):
        program = Program(kind, source)
        try:
            result = exchange(program, steps, window, until)
            out.append((result, program.logged()))
        finally:
            program.stop()
    return out[0][0], out[1][0], out[0][1], out[1][1]


def converse(program, steps, window=0.5):
    """Like ``harness.exchange``, with ("cmd", name) steps that send the program a
    command (close, closeIdle, closeAll) and wait until it has run. Returns
    (masked bytes, closed, the program's events)."""
    import socket
    import time

    from harness import mask
    start = len(program.events)
    sock = socket.create_connection(("127.0.0.1", program.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = bytearray()
    closed = False

    def read_until(deadline, want=None):
        nonlocal closed
        while not closed and (want is None or len(data) < want):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed = True
                return
            data.extend(chunk)

    for step in steps:
        if isinstance(step, bytes):
            sock.sendall(step)
        elif step[0] == "pause":
            read_until(time.monotonic() + step[1])
        elif step[0] == "wait":
            read_until(time.monotonic() + 5, step[1])
        elif step[0] == "cmd":
            program.command(step[1])
            program.sync()
    read_until(time.monotonic() + window)
    program.sync()
    sock.close()
    # what the client's close sets off (a closing server's callback) is in the log: the
    # program reads its commands on the loop that sees the FIN, and what the FIN sets
    # off may take a few loop turns (a socket's close, then the server's callback): round
    # trips go on until three in a row add no event (a busy machine can put the FIN
    # and a command in different turns)
    quiet = 0
    for _ in range(30):
        seen = len(program.logged(start))
        program.sync()
        quiet = quiet + 1 if len(program.logged(start)) == seen else 0
        if quiet == 3:
            break
    return mask(bytes(data)), closed, program.logged(start)
