"""CPython 3.11 keeps at most 30 attribute names in a class's compact instance layout,
counted over all its instances (the first 30 names set on any of them): one more name
set on a socket makes that socket a dict of its own, on the spot. So the names a
server's sockets set over the two common lives (a keep-alive connection, whose idle
timer is armed, and a ``Connection: close`` one, which lingers and finishes) must fit
in 30 together, not each alone."""

import socket

from test_call_budget import Rig
from test_call_budget_close import COMPACT, ClosingRig


def test_keep_alive_and_closed_sockets_share_the_compact_layout(tmp_path):
    rig = ClosingRig("bare", tmp_path)
    sockets = []
    try:
        rig.on_loop(rig.server.on, "connection", sockets.append)
        rig.client.close()  # (connected before the listener: a new keep-alive connection)
        rig.client = socket.create_connection(("127.0.0.1", rig.server.address()["port"]), timeout=30)
        Rig.requests(rig, 2)  # kept alive: its idle timer armed
        rig.requests(3)  # three connections answered and closed
        names = []
        rig.on_loop(lambda: names.extend(set(vars(s)) for s in sockets if s.bytes_read))
    finally:
        rig.close()
    assert len(names) == 4, names
    union = set().union(*names)
    assert len(union) <= COMPACT, f"{len(union)} names over the sockets' lives: {sorted(union)}"
