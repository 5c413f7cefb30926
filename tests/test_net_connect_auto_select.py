"""A name of several addresses is connected as Node 20's ``autoSelectFamily``: an
attempt not connected within the attempt timeout (250 ms) is given up for the next
address, so a first address that drops SYNs (a listener whose accept queue is full)
no longer holds the connect for the kernel's minutes; the families are interleaved,
each address tried once, with Node's ``connectionAttempt*`` events; ``family``,
``auto_select_family=False`` or a ``local_address`` try the first address only. A
refused connect closes the client's socket with ``had_error`` True, as Node's."""

import asyncio
import socket
import time

import pytest

import prefork
from prefork.net import Socket


def blackhole_and_server():
    """A listener on 127.0.0.2:P whose accept queue is full (its SYNs are dropped) and
    a listening socket on 127.0.0.1:P (the same port)."""
    for _ in range(20):
        hole = socket.socket()
        hole.bind(("127.0.0.2", 0))
        hole.listen(0)
        port = hole.getsockname()[1]
        good = socket.socket()
        try:
            good.bind(("127.0.0.1", port))
        except OSError:
            good.close()
            hole.close()
            continue
        good.listen(16)
        fill = []
        while True:  # until a connect gets no answer: the queue is full
            c = socket.socket()
            c.settimeout(0.2)
            fill.append(c)
            try:
                c.connect(("127.0.0.2", port))
            except (socket.timeout, TimeoutError):
                return hole, good, port, fill
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.fixture
def net():
    hole, good, port, fill = blackhole_and_server()
    yield good, port
    for s in [hole, good, *fill]:
        s.close()


def lookup_of(*addresses):
    def lookup(host, options, callback):
        entries = [{"address": a, "family": 6 if ":" in a else 4} for a in addresses]
        if options.get("all"):
            callback(None, entries)
        else:
            callback(None, entries[0]["address"], entries[0]["family"])
    return lookup


async def connect_and_record(port, addresses, **options):
    """Connect to ``example.test`` (resolved to ``addresses``): the events seen up to
    the close, and the socket."""
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    seen = []
    sock = Socket.connect(loop, "example.test", port, lookup=lookup_of(*addresses), **options)
    for name in ("connectionAttempt", "connectionAttemptTimeout"):
        sock.on(name, (lambda name: lambda *args: seen.append((name, *args)))(name))
    sock.on("connectionAttemptFailed", lambda a, p, f, err: seen.append(("connectionAttemptFailed", a, p, f, err.code)))
    sock.on("connect", lambda: (seen.append(("connect", sock.remote_address)), sock.destroy()))
    sock.on("error", lambda err: seen.append(("error", err.code, [e.code for e in err.errors or ()])))
    sock.on("close", lambda had_error: closed.set_result(had_error))
    had_error = await asyncio.wait_for(closed, 5)
    return seen, had_error, sock


def test_a_first_address_that_drops_syns_is_given_up_for_the_next_after_the_attempt_timeout(net):
    _, port = net

    async def main():
        started = time.monotonic()
        seen, had_error, sock = await connect_and_record(port, ["127.0.0.2", "127.0.0.1"],
                                                         auto_select_family_attempt_timeout=0.05)
        return seen, had_error, sock.auto_select_family_attempted_addresses, time.monotonic() - started
    seen, had_error, attempted, took = asyncio.run(main())
    assert seen == [("connectionAttempt", "127.0.0.2", port, 4), ("connectionAttemptTimeout", "127.0.0.2", port, 4),
                    ("connectionAttempt", "127.0.0.1", port, 4), ("connect", "127.0.0.1")]
    assert had_error is False and attempted == [f"127.0.0.2:{port}", f"127.0.0.1:{port}"]
    assert took >= 0.049


def test_a_client_request_to_a_name_whose_first_address_is_dead_is_answered(net):
    good, port = net

    async def main():
        loop = asyncio.get_running_loop()
        good.setblocking(False)

        async def answer(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            writer.close()
        server = await asyncio.start_server(answer, sock=good)
        done = loop.create_future()

        def on_response(res):
            body = []
            res.on("data", body.append)
            res.on("end", lambda: done.set_result((res.status_code, b"".join(body), res.socket.remote_address)))
        req = prefork.get({"host": "example.test", "port": port, "path": "/", "agent": False,
                           "lookup": lookup_of("127.0.0.2", "127.0.0.1")}, on_response)
        req.on("error", lambda err: done.set_result(("error", err.code)))
        try:
            return await asyncio.wait_for(done, 5)
        finally:
            server.close()
    assert asyncio.run(main()) == (200, b"ok", "127.0.0.1")


@pytest.mark.parametrize("options", [{"family": 4}, {"auto_select_family": False},
                                     {"local_address": "127.0.0.1"}])
def test_family_auto_select_family_false_or_a_local_address_try_the_first_address_only(net, options):
    _, port = net  # (127.0.0.3:P refuses: nothing listens there)
    seen, had_error, _ = asyncio.run(connect_and_record(port, ["127.0.0.3", "127.0.0.1"], **options))
    assert seen == [("connectionAttempt", "127.0.0.3", port, 4),
                    ("connectionAttemptFailed", "127.0.0.3", port, 4, "ECONNREFUSED"), ("error", "ECONNREFUSED", [])]
    assert had_error is True


def test_every_address_failing_is_an_aggregate_error_a_timed_out_attempt_included(net):
    _, port = net
    seen, had_error, _ = asyncio.run(connect_and_record(port, ["127.0.0.2", "127.0.0.2", "127.0.0.3"],
                                                        auto_select_family_attempt_timeout=0.02))
    assert seen == [("connectionAttempt", "127.0.0.2", port, 4), ("connectionAttemptTimeout", "127.0.0.2", port, 4),
                    ("connectionAttempt", "127.0.0.3", port, 4),
                    ("connectionAttemptFailed", "127.0.0.3", port, 4, "ECONNREFUSED"),
                    ("error", "ETIMEDOUT", ["ETIMEDOUT", "ECONNREFUSED"])]
    assert had_error is True


def test_the_families_are_interleaved_from_the_first_address_s(net):
    _, port = net
    seen, _, _ = asyncio.run(connect_and_record(port, ["127.0.0.3", "127.0.0.4", "::1", "127.0.0.3", "127.0.0.1"]))
    assert [each[:2] for each in seen if each[0] == "connectionAttempt"] == [
        ("connectionAttempt", "127.0.0.3"), ("connectionAttempt", "::1"), ("connectionAttempt", "127.0.0.4"),
        ("connectionAttempt", "127.0.0.1")]
    assert seen[-1] == ("connect", "127.0.0.1")


def test_the_attempt_timeout_is_at_least_ten_milliseconds_and_must_be_positive(net):
    _, port = net

    async def main():
        loop = asyncio.get_running_loop()
        timed_out = loop.create_future()
        sock = Socket.connect(loop, "example.test", port, lookup=lookup_of("127.0.0.2", "127.0.0.1"),
                              auto_select_family_attempt_timeout=0.001)
        sock.on("connectionAttempt", lambda *args: timed_out.done() or setattr(sock, "t0", time.monotonic()))
        sock.on("connectionAttemptTimeout", lambda *args: timed_out.set_result(time.monotonic() - sock.t0))
        closed = loop.create_future()
        sock.on("connect", sock.destroy)
        sock.on("close", lambda had_error: closed.set_result(had_error))
        waited = await asyncio.wait_for(timed_out, 5)
        assert await asyncio.wait_for(closed, 5) is False
        with pytest.raises(ValueError):
            Socket.connect(loop, "example.test", port, auto_select_family_attempt_timeout=0)
        return waited
    assert asyncio.run(main()) >= 0.009


def test_a_refused_connect_closes_the_client_request_s_socket_with_had_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # (nothing listens there now)

    async def main():
        loop = asyncio.get_running_loop()
        seen, done = [], loop.create_future()
        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": False})

        def on_socket(sock):
            sock.on("error", lambda err: seen.append(("socket error", err.code)))
            sock.on("close", lambda had_error: (seen.append(("socket close", had_error)), done.set_result(None)))
        req.on("socket", on_socket)
        req.on("error", lambda err: seen.append(("error", err.code)))
        req.on("close", lambda: seen.append(("close",)))
        await asyncio.wait_for(done, 5)
        return seen
    assert asyncio.run(main()) == [("error", "ECONNREFUSED"), ("socket error", "ECONNREFUSED"), ("close",),
                                   ("socket close", True)]


@pytest.mark.parametrize("how", ["resolver", "lookup"])
def test_a_name_that_does_not_resolve_emits_lookup_with_its_error_before_error(how):
    def failing(host, options, callback):
        err = Exception("boom")
        err.code = "EBOOM"
        callback(err)

    async def main():
        loop = asyncio.get_running_loop()
        seen, closed = [], loop.create_future()
        options = {"lookup": failing} if how == "lookup" else {}
        sock = Socket.connect(loop, "nonexistent.invalid", 80, **options)
        sock.on("lookup", lambda err, address, family, host: seen.append(("lookup", err.code, address, family, host)))
        sock.on("error", lambda err: seen.append(("error", err.code)))
        sock.on("close", lambda had_error: closed.set_result(had_error))
        assert await asyncio.wait_for(closed, 5) is True
        return seen
    code = "EBOOM" if how == "lookup" else "ENOTFOUND"
    assert asyncio.run(main()) == [("lookup", code, None, None, "nonexistent.invalid"), ("error", code)]


def test_a_request_s_options_carry_auto_select_family_and_its_attempt_timeout(net):
    good, port = net

    async def main(**options):
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        attempts = []
        req = prefork.get({"host": "example.test", "port": port, "path": "/", "agent": False,
                           "lookup": lookup_of("127.0.0.2", "127.0.0.1"), **options}, lambda res: res.resume())
        req.on("socket", lambda sock: sock.on("connectionAttempt", lambda *a: attempts.append(a[0])))
        def settle(outcome):
            if not done.done():
                done.set_result((outcome, time.monotonic()))
        req.on("socket", lambda sock: sock.on("connect", lambda: settle("connect")))
        req.on("timeout", lambda: settle("timeout"))
        req.on("error", lambda err: settle(err.code))
        start = time.monotonic()
        try:
            outcome, at = await asyncio.wait_for(done, 5)
        finally:
            req.destroy()
        return outcome, at - start, attempts

    good.setblocking(False)
    outcome, took, attempts = asyncio.run(main(auto_select_family_attempt_timeout=0.05))
    assert outcome == "connect" and attempts == ["127.0.0.2", "127.0.0.1"] and took < 0.25, (outcome, took)
    outcome, took, attempts = asyncio.run(main(auto_select_family=False, timeout=0.3))
    assert outcome == "timeout" and attempts == ["127.0.0.2"], (outcome, attempts)  # the first address only


@pytest.mark.parametrize("options, code", [({"auto_select_family": 1}, "ERR_INVALID_ARG_TYPE"),
                                           ({"auto_select_family_attempt_timeout": "1"}, "ERR_INVALID_ARG_TYPE"),
                                           ({"auto_select_family_attempt_timeout": 0}, "ERR_OUT_OF_RANGE")])
def test_a_request_s_auto_select_options_are_checked_at_once(options, code):
    with pytest.raises((TypeError, ValueError)) as caught:
        prefork.request({"host": "127.0.0.1", "port": 1, **options})
    assert caught.value.code == code


def test_the_auto_select_options_do_not_name_another_pool():
    agent = prefork.Agent()
    assert agent.get_name({"host": "h", "port": 1, "auto_select_family": False}) == "h:1"


@pytest.mark.parametrize("host", ["127.0.0.3", "::1"])
def test_an_address_literal_is_told_by_its_attempt_events_as_in_node(host):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as taken:
        taken.bind((host, 0))  # a port nothing listens on (held, not listening: refused)
        port = taken.getsockname()[1]

        async def main():
            loop = asyncio.get_running_loop()
            closed, seen = loop.create_future(), []
            sock = Socket.connect(loop, host, port)
            sock.on("connectionAttempt", lambda *args: seen.append(("connectionAttempt", *args)))
            sock.on("connectionAttemptFailed", lambda a, p, f, err: seen.append(("failed", a, p, f, err.code)))
            sock.on("error", lambda err: seen.append(("error", err.code)))
            sock.on("close", closed.set_result)
            return seen, await asyncio.wait_for(closed, 5)
        seen, had_error = asyncio.run(main())
    family = 6 if ":" in host else 4
    assert seen == [("connectionAttempt", host, port, family), ("failed", host, port, family, "ECONNREFUSED"),
                    ("error", "ECONNREFUSED")] and had_error is True


def test_a_lookup_entry_that_is_not_an_address_is_told_by_lookup_before_it_is_skipped(net):
    good, port = net

    async def main(addresses):
        loop = asyncio.get_running_loop()
        closed, seen = loop.create_future(), []
        sock = Socket.connect(loop, "example.test", port, lookup=lookup_of(*addresses))
        sock.on("lookup", lambda err, address, family, host: seen.append(("lookup", address, family)))
        sock.on("connect", lambda: (seen.append(("connect", sock.remote_address)), sock.destroy()))
        sock.on("error", lambda err: seen.append(("error", err.code)))
        sock.on("close", closed.set_result)
        await asyncio.wait_for(closed, 5)
        return seen
    assert asyncio.run(main(["nope", "127.0.0.1"])) == [("lookup", "nope", 4), ("lookup", "127.0.0.1", 4),
                                                       ("connect", "127.0.0.1")]
    assert asyncio.run(main(["nope", "nah"])) == [("lookup", "nope", 4), ("lookup", "nah", 4),
                                                 ("error", "ERR_INVALID_IP_ADDRESS")]


def test_a_literal_connect_destroyed_in_its_own_turn_tells_no_attempt():
    async def main():
        loop = asyncio.get_running_loop()
        closed, seen = loop.create_future(), []
        sock = Socket.connect(loop, "127.0.0.1", 9)
        sock.on("connectionAttempt", lambda *args: seen.append("connectionAttempt"))
        sock.on("close", closed.set_result)
        sock.destroy()
        await asyncio.wait_for(closed, 5)
        return seen
    assert asyncio.run(main()) == []
