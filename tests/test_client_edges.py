"""The client against Node's, where it once differed silently:

- options it does not implement (``insecure_http_parser``) were accepted and ignored, so
  a ported request behaved otherwise with no error: they are refused by name (and an
  unknown name too, as the server refuses its unknown options); ``default_port`` is
  Node's (the port when none is given, left out of ``Host`` as Node leaves it);
- ``write()`` after ``destroy()`` said True and, with no socket yet, never called its
  callback: it says False and the callback runs (Node's ERR_STREAM_DESTROYED; prefork's
  write callbacks take no error).
"""

import asyncio

import pytest

import prefork
from prefork.runtime import new_event_loop


@pytest.mark.parametrize("name, value", [("insecure_http_parser", True)])
def test_an_option_it_does_not_implement_is_refused(name, value):
    loop = new_event_loop("asyncio")
    try:
        with pytest.raises(TypeError) as info:
            prefork.request({"host": "127.0.0.1", "port": 9, name: value}, loop=loop)
        assert info.value.code == "ERR_INVALID_ARG_VALUE" and f"the {name!r} option is not supported" in str(info.value)
        with pytest.raises(TypeError, match="unknown option 'hsot'"):
            prefork.request({"hsot": "127.0.0.1"}, loop=loop)
    finally:
        loop.close()


def test_default_port_is_the_port_when_none_is_given(serve):
    st = serve(lambda server, st_: server.on("request", lambda req, res: res.end(req.headers["host"])))

    async def main():
        res = await prefork.get({"host": "127.0.0.1", "default_port": st.port, "path": "/"})
        first = await res.read()
        res = await prefork.get(f"http://127.0.0.1/", default_port=st.port)  # a URL without a port too
        return first, await res.read()
    loop = new_event_loop("asyncio")
    try:
        assert loop.run_until_complete(main()) == (b"127.0.0.1",) * 2  # (the default port is not written)
    finally:
        loop.close()


def test_write_after_destroy_says_false_and_calls_back():
    async def main():
        req = prefork.request({"host": "127.0.0.1", "port": 9, "method": "POST"})
        req.on("error", lambda err: None)
        req.destroy()
        called = asyncio.get_running_loop().create_future()
        ok = req.write("x", callback=lambda *args: called.set_result(args))
        return ok, await asyncio.wait_for(called, 5)
    loop = new_event_loop("asyncio")
    try:
        assert loop.run_until_complete(main()) == (False, ())
    finally:
        loop.close()
