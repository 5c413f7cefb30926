"""A request whose connection cannot be made fails with Node's fields on its error:
``code``, ``errno``, ``syscall`` (``connect``, ``getaddrinfo``), ``address`` and ``port``
(the path alone for a UNIX socket), ``hostname`` for a name that did not resolve. A
name the resolver cannot even encode (a label over 63 bytes) is ENOTFOUND, as in Node,
instead of a request that never ends. Node's client against the same targets."""

import asyncio
import json
import os
import socket
import sys

import pytest

import prefork
from harness import NODE, node_events
from test_client_addresses import ROOT, UNSHARE, in_namespace
from prefork.net import connect

FIELDS = ("code", "message", "syscall", "address", "port", "hostname")

NODE_ERRORS = r"""
const targets = %s;
const next = (i) => {
  if (i === targets.length) return done();
  const req = http.get(Object.assign({agent: false}, targets[i]));
  req.on('error', (e) => { log(e.code, e.message, e.syscall, e.address, e.port, e.hostname, e.errno); next(i + 1); });
};
next(0);
"""


def prefork_errors(targets):
    async def main():
        out = []
        for target in targets:
            options = {"agent": False, **{("socket_path" if k == "socketPath" else k): v for k, v in target.items()}}
            req = prefork.get(options)
            try:
                await asyncio.wait_for(req.response(), 2)
                out.append("answered")
            except asyncio.TimeoutError:
                out.append("no end")
            except Exception as err:  # (checked below: a ConnectError)
                out.append(err)
        return out
    return asyncio.run(main())


@pytest.fixture
def refusing_port():
    """A port on 127.0.0.1 (and ::1 when there is IPv6) that is bound but not listening."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    held6 = None
    try:
        held6 = socket.socket(socket.AF_INET6)
        held6.bind(("::1", port))
    except OSError:
        if held6 is not None:
            held6.close()
        held6 = None
    yield port, held6 is not None
    held.close()
    if held6 is not None:
        held6.close()


def test_connection_errors_carry_nodes_fields(refusing_port, tmp_path):
    port, ipv6 = refusing_port
    targets = [{"host": "127.0.0.1", "port": port},
               {"host": "nonexistent.invalid", "port": port},
               {"host": "a" * 64 + ".example", "port": port},
               {"socketPath": str(tmp_path / "nothing.sock")}]
    if ipv6:
        targets.append({"host": "::1", "port": port})
    theirs = node_events(NODE_ERRORS % json.dumps(targets))
    ours = prefork_errors(targets)
    assert [t[0] for t in theirs][:4] == ["ECONNREFUSED", theirs[1][0], "ENOTFOUND", "ENOENT"]
    for err, their in zip(ours, theirs):
        mine = [getattr(err, field, "unset") for field in FIELDS]
        assert mine == [their[i] if i < len(their) - 1 else None for i in range(len(FIELDS))], (mine, their)
        assert isinstance(err, connect.ConnectError) and isinstance(err.errno, int)
        if err.syscall == "connect":  # the system's number; Node's is libuv's, its negative
            assert err.errno == -their[-1]
    assert len(ours) == len(theirs) == len(targets)


def test_an_awaited_connection_error_keeps_its_fields(refusing_port):
    """``await req`` raises a copy of the error: the fields come with it."""
    port, _ = refusing_port
    err = prefork_errors([{"host": "127.0.0.1", "port": port}])[0]
    assert (err.code, err.syscall, err.address, err.port, err.errors) == \
        ("ECONNREFUSED", "connect", "127.0.0.1", port, None)


AGGREGATE_PREFORK = r"""
import asyncio, json, sys
sys.path.insert(0, ROOT)
import prefork

async def main():
    try:
        await asyncio.wait_for(prefork.get({"host": "dual.test", "port": int(sys.argv[1]), "agent": False}), 10)
        print("answered")
    except Exception as err:
        print(json.dumps([err.code, [[e.code, e.syscall, e.address, e.port] for e in err.errors or ()]]))
asyncio.run(main())
"""

AGGREGATE_NODE = r"""
require('http').get({host: 'dual.test', port: +process.argv[1], agent: false}).on('error', (err) =>
  console.log(JSON.stringify([err.code, (err.errors || []).map((e) => [e.code, e.syscall, e.address, e.port])])));
"""


@pytest.mark.skipif(UNSHARE is None or os.geteuid() != 0, reason="needs unshare and root")
def test_every_address_of_a_name_refused_is_nodes_aggregate_error(refusing_port, tmp_path):
    """A name whose addresses all refuse: the first address's code, and every address's
    error in ``errors`` (Node 20's AggregateError)."""
    port, ipv6 = refusing_port
    if not ipv6:
        pytest.skip("no IPv6 on this machine")
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 dual.test\n127.0.0.1 dual.test\n")
    mine = in_namespace(hosts, [sys.executable, "-c", AGGREGATE_PREFORK.replace("ROOT", repr(ROOT)), str(port)])
    if NODE is not None:
        assert json.loads(in_namespace(hosts, [NODE, "-e", AGGREGATE_NODE, "--", str(port)])) == json.loads(mine)
    assert json.loads(mine) == ["ECONNREFUSED", [["ECONNREFUSED", "connect", "::1", port],
                                                 ["ECONNREFUSED", "connect", "127.0.0.1", port]]]
