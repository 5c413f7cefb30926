"""What the client tests against Node v20's client share: a raw socket server that
answers ``GET /<n>`` with case n's bytes then its FIN (``CaseServer``); the run of a Node
script that prints its events as JSON (``node_run``) and the head of a script that runs
the cases one after the other (``NODE_CASES``); prefork's side, which makes each case's
request in turn in one asyncio loop and logs its events (``case_request``,
``capped_exchange``, ``prefork_events``); and both sides against one server
(``both_events``).

A case is a tuple whose first item is the response's bytes; the rest is each test's own
(the agent, the request's ``max_headers_count``...).
"""

import asyncio
import json
import socket
import subprocess
import threading

import prefork
from harness import NODE


class CaseServer:
    """Answers ``GET /<n>`` with ``cases[n][0]``, then its FIN, on every connection, and
    reads until the client's close. A context manager: ``close`` at the block's end."""

    def __init__(self, cases):
        self.cases = cases
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.threads = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, conn):
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                index = int(data.split(b" ", 2)[1].strip(b"/"))
                conn.sendall(self.cases[index][0])
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(65536):  # until the client's close
                    pass
            except OSError:
                pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        except OSError:
            pass
        self.sock.close()
        self.accepter.join(5)
        for thread in self.threads:
            thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def node_run(script, timeout=30):
    """What the Node script logged (the JSON it prints); the process is killed if it
    outlives ``timeout``."""
    proc = subprocess.Popen([NODE, "-e", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return json.loads(out)


def case_request(port, n, agent=False, cap=None):
    """prefork's request for ``/<n>`` (not ended), with ``max_headers_count`` set to
    ``cap`` unless it is None."""
    req = prefork.request({"host": "127.0.0.1", "port": port, "path": f"/{n}", "agent": agent})
    if cap is not None:
        req.max_headers_count = cap
    return req


def capped_exchange(port, n, cap, log, over, on_response):
    """Case n's request with ``max_headers_count`` ``cap`` (``case_request``), ended; its
    error is logged (``"error"`` and the code) and ends the exchange, its response goes to
    ``on_response``."""
    req = case_request(port, n, cap=cap)

    def on_error(err):
        log("error", err.code)
        over()
    req.on("error", on_error)
    req.on("response", on_response)
    req.end()


def prefork_events(port, count, start, pause=0.0, timeout=5):
    """The events prefork's client logs for cases 0 to ``count`` - 1, one after the other
    in one asyncio loop. ``start(port, n, log, over)`` makes and ends case n's request
    with its listeners: ``log(*event)`` logs ``[n, *event]``, ``over()`` says the exchange
    is done (once is enough). It may return a callable, called once ``over`` came (in
    ``timeout`` seconds) and a further ``pause`` seconds went by (for late events)."""
    events = []

    async def main():
        loop = asyncio.get_running_loop()
        for n in range(count):
            done = loop.create_future()

            def log(*event, n=n):
                events.append([n, *event])

            def over(done=done):
                if not done.done():
                    done.set_result(None)
            after = start(port, n, log, over)
            await asyncio.wait_for(done, timeout)
            if pause:
                await asyncio.sleep(pause)
            if after is not None:
                after()
    asyncio.run(main())
    return events


# What a Node script that runs the cases gets before its own lines (``NODE_CASES %
# (cases, port)``); its own lines define ``exchange(n)``, case n's exchange, which calls
# ``one(n + 1)`` once it is done.
NODE_CASES = r"""
const http = require('http');
const events = [];
// (the exit waits for the write: a pipe takes 64 KiB at once)
const done = () => process.stdout.write(JSON.stringify(events), () => process.exit(0));
const cases = %s;  // each case's second item
const port = %d;
const one = (n) => (n === cases.length ? done() : exchange(n));
// case n's request, without an agent, with cases[n] as its maxHeadersCount unless null
const capped = (n) => {
  const req = http.get({ host: '127.0.0.1', port, path: '/' + n, agent: false });
  if (cases[n] !== null) req.maxHeadersCount = cases[n];
  return req;
};
"""


def both_events(cases, start, exchange, pause=0.0, as_json=False):
    """prefork's events and Node's for ``cases``, served by one CaseServer: prefork's
    from ``prefork_events`` with ``start`` and ``pause`` (with ``as_json``, as JSON gives
    them back: tuples as lists), Node's from a script of ``NODE_CASES`` (each case's
    second item for ``cases``) and ``exchange``, its ``exchange(n)``, run from case 0."""
    with CaseServer(cases) as server:
        ours = prefork_events(server.port, len(cases), start, pause)
        if as_json:
            ours = json.loads(json.dumps(ours))
        script = NODE_CASES % (json.dumps([case[1] for case in cases]), server.port) + exchange + "one(0);\n"
        return ours, node_run(script)
