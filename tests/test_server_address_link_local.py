"""``server.address()`` of a listener on a link-local IPv6 address names its zone, as
Node v20 does (``{"address": "fe80::...%eth0", "family": "IPv6", ...}`` for
``http.createServer().listen(0, 'fe80::...%eth0')``); it used to give the bare
``fe80::...``, an address no client can connect to as written."""

import socket

import prefork
from prefork.runtime import new_event_loop
from test_net_link_local_zone import link_local


def test_address_of_a_link_local_listener_names_its_zone_and_takes_a_connection():
    host = link_local()
    loop = new_event_loop()
    server = prefork.create_server(loop=loop)
    try:
        server.listen(0, host)
        address = server.address()
        assert address["address"] == host and address["family"] == "IPv6"
        with socket.create_connection((address["address"], address["port"]), timeout=5):
            pass  # (the kernel took it: the address as written reaches the listener)
        other = prefork.create_server(loop=loop)
        other.listen(0, "::1")
        assert other.address()["address"] == "::1"  # no zone: as it was
        other.close()
    finally:
        server.close()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
