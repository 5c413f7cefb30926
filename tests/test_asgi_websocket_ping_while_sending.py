"""Clients flooding the worker with messages, and answering its pings, are not cut for
a late pong: a busy worker reads each one's backlog a share per loop turn (uvicorn
reads the whole backlog into memory and sees the pong at once), so a pong waits behind
bytes not read yet, and the wait for it starts again while they wait unread. Before,
clients uploading faster than the worker read were closed with 1011 ``keepalive ping
timeout`` mid-stream. (A client that never answers is still closed: see
test_asgi_websocket_ping_unanswered.py.)"""

import threading

from test_asgi_websocket import masked, read_frame
from test_hostile_asgi import Served
from test_hostile_asgi_websocket import handshake

CLIENTS, ROUNDS, FRAMES = 20, 400, 10


def test_clients_flooding_a_busy_worker_and_answering_its_pings_are_not_cut(tmp_path):
    s = Served(tmp_path, "--ws-ping-interval", "0.1", "--ws-ping-timeout", "0.75")
    socks = []
    try:
        socks = [handshake(s, "/ws/echo")[0] for _ in range(CLIENTS)]
        burst = masked(0x82, b"y" * 512) * FRAMES
        outcomes = []
        locks = {sock: threading.Lock() for sock in socks}

        def reader(sock):
            echoed = pings = 0
            try:
                while echoed < ROUNDS * FRAMES:
                    opcode, payload = read_frame(sock)
                    if opcode == 0x2:
                        echoed += 1
                    elif opcode == 0x9:
                        pings += 1
                        with locks[sock]:  # (a burst's sendall may take several sends)
                            sock.sendall(masked(0x8A, payload))
                    elif opcode == 0x8:
                        outcomes.append(f"closed after {echoed} echoes: {payload!r}")
                        return
            except (OSError, AssertionError, ValueError) as err:
                outcomes.append(f"lost after {echoed} echoes: {err!r}")
                return
            outcomes.append(pings)

        def writer(sock):
            try:
                for _ in range(ROUNDS):
                    with locks[sock]:
                        sock.sendall(burst)
            except OSError:
                pass  # (closed: the reader says how)
        threads = [threading.Thread(target=reader, args=(sock,)) for sock in socks]
        threads += [threading.Thread(target=writer, args=(sock,)) for sock in socks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(outcomes) == CLIENTS and all(type(o) is int for o in outcomes), outcomes
        assert sum(outcomes), "the worker sent no ping during the flood"
        for sock in socks:
            sock.close()
        s.healthy()
    finally:
        for sock in socks:
            sock.close()
        s.daemon.cleanup()
