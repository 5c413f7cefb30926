"""A request destroyed with an error before anyone awaits it (a watchdog's
``req.destroy(err)``, then ``await req``): the awaiter raises that error, and it is not
also logged as an unhandled ``error`` event (it was emitted on the next turn, after
the awaiter had taken it). With an ``error`` listener it is still emitted to it.
prefork logged it as unhandled though the awaiting code had handled it."""

import asyncio
import logging
import socket

import pytest

import prefork


def closed_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.mark.parametrize("listened", [False, True])
def test_an_error_raised_to_an_awaiter_before_it_is_emitted_is_not_unhandled(caplog, listened):
    caplog.set_level(logging.ERROR)
    port = closed_port()

    async def main():
        req = prefork.get({"host": "127.0.0.1", "port": port, "agent": False})
        heard = []
        if listened:
            req.on("error", heard.append)
        closed = asyncio.get_running_loop().create_future()
        req.on("close", lambda: closed.set_result(None))
        req.destroy(ValueError("given up"))
        with pytest.raises(ValueError, match="given up"):
            await req  # (awaited at once: wait_for's task would start after the emission)
        await asyncio.wait_for(closed, 5)
        return [str(e) for e in heard]
    assert asyncio.run(main()) == (["given up"] if listened else [])
    assert "unhandled 'error'" not in caplog.text
