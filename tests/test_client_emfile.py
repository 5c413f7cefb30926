"""A request for which no socket can be made (the process is out of descriptors:
EMFILE) fails with that code, ``error`` then ``close``, and takes no slot in its
agent's pool: once descriptors are free again the next request on the same agent (one
socket at most) goes out. It raised inside a loop callback instead, the request hung
without an event, and its slot stayed counted, so with ``max_sockets`` every later
request waited in line for ever. Run in a child process whose descriptor limit is
lowered, so the test's own process keeps its descriptors."""

import json
import os
import subprocess
import sys

from test_hostile_client import RawServer, read_head

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import asyncio, json, os, resource, sys
sys.path.insert(0, sys.argv[2])
import prefork

async def main(port):
    loop = asyncio.get_running_loop()
    agent = prefork.Agent(max_sockets=1)
    events = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
    held = []
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    req = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent})
    req.on("socket", lambda s: events.append(["socket"]))
    req.on("error", lambda e: events.append(["error", e.code]))
    closed = loop.create_future()
    req.on("close", lambda: (events.append(["close"]), closed.set_result(None)))
    try:
        await asyncio.wait_for(closed, 2)
    except asyncio.TimeoutError:
        events.append(["no close"])
    for fd in held:
        os.close(fd)
    again = prefork.get({"host": "127.0.0.1", "port": port, "agent": agent})
    try:
        res = await asyncio.wait_for(again.response(), 2)
        events.append(["again", res.status_code, (await asyncio.wait_for(res.read(), 2)).decode()])
    except asyncio.TimeoutError:
        events.append(["again: no response"])
    agent.destroy()
    print(json.dumps(events))

asyncio.run(main(int(sys.argv[1])))
"""


def test_a_request_without_a_descriptor_fails_and_frees_its_slot():
    def handler(conn, index):
        while read_head(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    srv = RawServer(handler)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(srv.port), ROOT],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            os.kill(child.pid, 9)
            child.wait()
        srv.close()
    assert json.loads(out.splitlines()[-1]) == [["error", "EMFILE"], ["close"], ["again", 200, "ok"]], err
