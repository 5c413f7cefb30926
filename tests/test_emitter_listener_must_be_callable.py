"""A listener that is not callable is refused where it is given, with Node's code."""

import pytest

from prefork.emitter import EventEmitter
from prefork.server import create_server


@pytest.mark.parametrize("method", ["on", "add_listener", "once", "prepend_listener",
                                    "prepend_once_listener", "off", "remove_listener"])
@pytest.mark.parametrize("value, said", [(None, "Received None"), (5, "Received type int (5)"),
                                         ("f", "Received type str ('f')"), ({}, "Received an instance of dict")])
def test_a_listener_that_is_not_callable_is_refused_with_err_invalid_arg_type(method, value, said):
    emitter = EventEmitter()
    with pytest.raises(TypeError) as caught:
        getattr(emitter, method)("x", value)
    assert caught.value.code == "ERR_INVALID_ARG_TYPE"
    assert str(caught.value) == f'The "listener" argument must be callable. {said}'
    assert emitter.listener_count("x") == 0 and emitter.event_names() == []


def test_a_refused_request_listener_is_not_added_to_the_server():
    server = create_server()
    with pytest.raises(TypeError):
        server.on("request", None)
    assert server.listener_count("request") == 0


def test_callables_of_every_kind_are_listeners():
    class Callable:
        def __call__(self, *args):
            seen.append(("instance", args))

    async def coroutine_function(*args):
        pass

    seen = []
    emitter = EventEmitter()
    emitter.on("x", lambda *a: seen.append(("lambda", a)))
    emitter.on("x", Callable())
    emitter.once("x", lambda *a: seen.append(("once", a)))
    emitter.on("y", coroutine_function)
    assert emitter.emit("x", 1) is True
    assert seen == [("lambda", (1,)), ("instance", (1,)), ("once", (1,))]
    assert emitter.listener_count("y") == 1
