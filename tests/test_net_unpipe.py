"""``socket.pipe()`` is undone as Node's: by ``unpipe([destination])`` (which a socket did
not have), and at the destination's ``finish`` or ``close``, after which nothing more
is written into it (a destination ended by the application was written to, and
destroyed with ERR_STREAM_WRITE_AFTER_END); a source left with no pipe is paused. An
emitter destination gets the ``pipe`` and ``unpipe`` events."""

import socket

from prefork.net import Socket


def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    return sock


def recv_until(conn, wanted):
    conn.settimeout(5)
    got = b""
    while wanted not in got:
        data = conn.recv(65536)
        assert data, got
        got += data
    return got


def test_unpipe_undoes_a_pipe_and_pauses_the_source(serve):
    lst = listener()
    st = serve()

    def run():
        source = Socket.connect(st.loop, "127.0.0.1", lst.getsockname()[1])
        sink = Socket.connect(st.loop, "127.0.0.1", lst.getsockname()[1])
        told = []
        sink.on("pipe", lambda src: told.append(("pipe", src is source)))
        sink.on("unpipe", lambda src: told.append(("unpipe", src is source)))
        source.pipe(sink)
        piped = (source.listener_count("data"), sink.listener_count("drain"), source.is_paused())
        assert source.unpipe(sink) is source
        left = (source.listener_count("data"), source.listener_count("end"), sink.listener_count("drain"),
                sink.listener_count("close"), source.is_paused())
        source.destroy()
        sink.destroy()
        return told, piped, left
    try:
        assert st.call(run) == ([("pipe", True), ("unpipe", True)], (1, 1, False), (0, 0, 0, 0, True))
    finally:
        lst.close()


def test_nothing_is_written_into_a_destination_after_its_finish(serve):
    listeners = {name: listener() for name in ("source", "sink", "other")}
    st = serve()
    made = {}

    def start():
        for name, lst in listeners.items():
            made[name] = Socket.connect(st.loop, "127.0.0.1", lst.getsockname()[1])
        source, sink, other = made["source"], made["sink"], made["other"]
        sink.on("error", lambda err: st.record("sink error", err.code))
        sink.on("finish", lambda: st.record("finish"))
        source.pipe(sink)
        source.pipe(other)  # (still piped after the sink's finish: it sees what the source reads)
    try:
        st.call(start)
        source_peer, sink_peer, other_peer = peers = [lst.accept()[0] for lst in listeners.values()]
        source_peer.sendall(b"one")
        assert recv_until(sink_peer, b"one") == b"one"
        recv_until(other_peer, b"one")
        st.call(made["sink"].end)
        st.wait_for(lambda e: e == ("finish",))
        source_peer.sendall(b"late")
        recv_until(other_peer, b"late")  # the source read it: the sink's pipe was undone at its finish
        assert sink_peer.recv(100) == b""  # the sink's FIN, and nothing after it
        assert not any(e[0] == "sink error" for e in st.events), st.events
        assert st.call(lambda: made["sink"].destroyed) is False
        for peer in peers:
            peer.close()
    finally:
        for lst in listeners.values():
            lst.close()
        st.call(lambda: [sock.destroy() for sock in made.values()])
