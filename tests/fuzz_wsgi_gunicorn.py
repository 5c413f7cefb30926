"""Differential fuzz of the WSGI interface: prefork's daemon against gunicorn's, one
worker each, both serving the app of tests/apps/fuzz_wsgi.py, on the same request
streams from the generator (``inputs``, tests/fuzz_wsgi_gunicorn_inputs.py). This module
is the driver: one connection (``exchange``), what the client read (``parse``, ``view``,
``Outcome``), the two servers (``start_servers``) and a run (``campaign``).

Each input is sent on a new loopback connection to each server (its head first, then
its body once a 100 came, when it expects one), then half-closed; the connection is
read to its close. Compared per response the client reads (its method known from the
request it answers): the status and reason, the framing (Content-Length,
Transfer-Encoding, Connection, close-delimited), the app's own headers, the body (the
dump parsed), then whether the connection closed and what was left unparsed. What
legitimately differs is named by the classifier (tests/test_fuzz_wsgi_gunicorn.py) from
the table of known differences, each entry with its reason
(tests/fuzz_wsgi_gunicorn_known.py).

CI runs a seeded batch (tests/test_fuzz_wsgi_gunicorn.py); a long one:

    python tests/test_fuzz_wsgi_gunicorn.py --inputs 20000 --seed 1 --worker gthread [--threads 4]
"""

import json
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fuzz_wsgi_gunicorn_inputs import inputs  # noqa: E402


# -- one exchange --------------------------------------------------------------------------
def exchange(port, case, deadline=5.0):
    """Sends ``case`` on a new connection (waiting up to 0.5 s for a 100 where the
    request expects one), half-closes, reads to the close: (bytes, closed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=deadline)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = bytearray()
    try:
        for i, (method, head, body, expects) in enumerate(case):
            if expects and i == 0:
                sock.sendall(head)
                sock.settimeout(0.5)
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except socket.timeout:
                    pass
                sock.settimeout(deadline)
                sock.sendall(body)
            else:
                sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    end, chunk = time.monotonic() + deadline, None
    while chunk != b"" and time.monotonic() < end:  # to the close (a reset is one), within the deadline
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            chunk = b""
        data += chunk
    sock.close()
    return bytes(data), chunk == b""


# -- what the client reads -----------------------------------------------------------------
class Response:
    __slots__ = ("status", "reason", "headers", "framing", "body", "complete")

    def __init__(self, status, reason, headers):
        self.status, self.reason, self.headers = status, reason, headers
        self.framing, self.body, self.complete = None, b"", True

    def get(self, name):
        return [v for n, v in self.headers if n == name]


def parse(data, methods):
    """The responses in ``data`` (1xx ones included), the i-th final one read as the
    answer to ``methods[i]``; and the bytes left unparsed."""
    out = []
    finals = 0
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            break
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")))
        res = Response(int(parts[1]), parts[2].decode("latin-1") if len(parts) > 2 else None, headers)
        out.append(res)
        data = rest
        if res.status < 200:
            continue
        method = methods[finals] if finals < len(methods) else b"GET"
        finals += 1
        length = res.get("content-length")
        chunked = "chunked" in ",".join(res.get("transfer-encoding")).lower()
        if method == b"HEAD" or res.status in (204, 304):
            res.framing = "none"
        elif chunked:
            res.framing = "chunked"
            body = bytearray()
            while True:
                line, sep, data = data.partition(b"\r\n")
                try:
                    size = int(line.split(b";")[0], 16)
                except ValueError:
                    size = -1
                if not sep or size < 0 or len(data) < size + 2:
                    res.complete, data = False, b""
                    break
                if size == 0:
                    data = data[data.find(b"\r\n\r\n") + 4:] if not data.startswith(b"\r\n") else data[2:]
                    break
                body += data[:size]
                data = data[size + 2:]
            res.body = bytes(body)
        elif length and length[0].isdigit():
            res.framing = "length"
            n = int(length[0])
            res.body, data = data[:n], data[n:]
            res.complete = len(res.body) == n
        else:
            res.framing = "close"
            res.body, data = data, b""
    return out, data


APP_HEADERS = ("content-type", "x-dup", "set-cookie", "x-space", "x-app")


def view(res):
    """What is compared of one response."""
    body = res.body
    try:
        body = json.loads(body) if res.body.startswith(b"{") else body
    except ValueError:
        pass
    fields = {name: res.get(name) for name in APP_HEADERS if res.get(name)}
    if not res.get("x-app"):  # the server's own answer (a parse error, a 500): its words are its own
        return {"status": res.status, "server's": True}
    # (the Content-Length's value is checked by ``complete``; it is the body's, which the dump decides)
    return {"status": res.status, "reason": res.reason, "framing": res.framing, "complete": res.complete,
            "length": bool(res.get("content-length")), "te": [v.lower() for v in res.get("transfer-encoding")],
            "connection": [v.lower() for v in res.get("connection")], "fields": fields, "body": body}


class Outcome:
    def __init__(self, data, closed, case):
        self.data, self.closed, self.case = data, closed, case
        self.responses, self.rest = parse(data, [m for m, *_ in case])
        self.finals = []  # each final response's view, with the 1xx statuses before it
        interim = []
        for res in self.responses:
            if res.status < 200:
                interim.append(res.status)
                continue
            self.finals.append(dict(view(res), interim=interim))
            interim = []
        if interim:
            self.finals.append({"status": None, "interim": interim})


# -- the servers ----------------------------------------------------------------------------
def start_servers(worker="sync", threads=1):
    """(prefork's Daemon, Gunicorn), each with one worker (of ``threads`` threads), ready."""
    from daemon import Daemon, children
    from journey_peers import Gunicorn
    gun = Gunicorn("apps.fuzz_wsgi:app", "--worker-class", worker, "--log-level", "warning",
                   "--error-logfile", "-", threads=threads)
    prefork = Daemon("--interface", "wsgi", "--threads", str(threads), app="apps.fuzz_wsgi:app", workers=1)
    try:
        prefork.wait_ready(timeout=30)
        wait_serving(gun.port)
        gun.seen.update(children(gun.proc.pid))
    except BaseException:
        stop_servers((prefork, gun))
        raise
    return prefork, gun


def wait_serving(port, timeout=30):
    from daemon import wait_until

    def answers():
        try:
            return exchange(port, [(b"GET", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"", False)])[0][:12] == b"HTTP/1.1 200"
        except OSError:
            return False
    wait_until(answers, timeout, interval=0.05, what=f"an answer on port {port}")


def stop_servers(servers):
    for server in servers:
        server.cleanup()


def campaign(servers, seed, count, classify, parallel=8, report=None):
    """Runs ``count`` inputs; ``classify(case, gunicorn, prefork)`` names the known
    difference of an outcome pair (or None: a finding). Returns counts and findings."""
    prefork, gun = servers
    result = {"inputs": 0, "same": 0, "known": {}, "findings": []}

    def one(case):
        return case, Outcome(*exchange(gun.port, case), case), Outcome(*exchange(prefork.port, case), case)

    def tally(name):
        if name == "same":
            result["same"] += 1
        else:
            result["known"][name] = result["known"].get(name, 0) + 1

    looks = []
    with ThreadPoolExecutor(parallel) as pool:
        for case, theirs, ours in pool.map(one, inputs(seed, count)):
            result["inputs"] += 1
            name = classify(case, theirs, ours)
            if name is None:
                looks.append(case)
            else:
                tally(name)
    for case in looks:
        # a second look, alone: a difference made by the load of the parallel run (a
        # threaded worker whose calls waited for a thread answers Connection: close, by
        # design, wsgi/threads.py) is unstable, not a finding
        case, theirs, ours = one(case)
        name = classify(case, theirs, ours)
        if name is None:
            result["findings"].append((case, theirs, ours))
            if report:
                report(case, theirs, ours)
        else:
            tally("unstable (differed under the parallel run's load only)")
    return result
