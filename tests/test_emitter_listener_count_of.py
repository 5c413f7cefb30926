"""``listener_count(event, listener)`` is Node 20's ``listenerCount(eventName,
listener)``: how many listeners of ``event`` are ``listener``, a ``once`` one counted by
the function given (the one-argument form took no second argument: a TypeError)."""

import subprocess

from harness import NODE

from prefork.emitter import EventEmitter


def test_listener_count_of_one_listener_as_in_node():
    emitter = EventEmitter()

    def f():
        pass
    emitter.on("x", f)
    emitter.once("x", f)
    emitter.on("x", lambda: None)
    seen = [emitter.listener_count("x"), emitter.listener_count("x", f), emitter.listener_count("y", f),
            emitter.listener_count("x", lambda: None)]
    assert seen == [3, 2, 0, 0]
    if NODE:
        out = subprocess.run([NODE, "-e", "const E = require('events'); const e = new E(); const f = () => {};"
                              "e.on('x', f); e.once('x', f); e.on('x', () => {});"
                              "console.log(JSON.stringify([e.listenerCount('x'), e.listenerCount('x', f),"
                              " e.listenerCount('y', f), e.listenerCount('x', () => {})]))"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        assert out.strip() == "[3,2,0,0]"
