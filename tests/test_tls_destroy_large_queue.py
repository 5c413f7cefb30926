"""Destroying a TLS connection with most of a large body still queued (a reader that
stopped, cut by the application or a timeout) encrypts its rest a piece at a time while the
kernel takes the records, not the whole rest only to drop it: the worker's peak memory
does not grow by the body's size at the destroy (it grew by about twice the 32 MiB here),
and a reader that keeps up still gets all the kernel took (a whole 1 MB body)."""

from daemon import Daemon, wait_until
from test_hostile_net_tls import client_context, connect, pki  # noqa: F401  (pki: a fixture)

MIB = 1024


def test_destroying_a_connection_with_a_large_body_queued_seals_no_copy_of_its_rest(pki, tmp_path):  # noqa: F811
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, app="apps.tls_destroy_big:setup", workers=1)
    try:
        daemon.wait_ready()
        conn = connect(daemon.port, client_context(pki))
        try:
            conn.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(1000).startswith(b"HTTP/1.1 200 OK")  # then it reads no more
            answer = []

            def peak():
                probe = connect(daemon.port, client_context(pki))
                try:
                    probe.sendall(b"GET /peak HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while chunk := probe.recv(4096):
                        data += chunk
                finally:
                    probe.close()
                answer[:] = [data.split(b"\r\n\r\n", 1)[1]]
                return answer[0] != b"none"
            wait_until(peak, 15, what="the destroy done")
        finally:
            conn.close()
        grown = int(answer[0])
        assert grown < 8 * MIB, f"peak memory grew by {grown // MIB} MiB at the destroy"
    finally:
        daemon.cleanup()


def test_a_destroy_right_after_a_large_body_still_sends_what_the_kernel_takes(pki):  # noqa: F811
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, app="apps.tls_destroy_big:setup", workers=1)
    try:
        daemon.wait_ready()
        conn = connect(daemon.port, client_context(pki))
        try:
            conn.sendall(b"GET /end-destroy HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 1000000:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            conn.close()
        head, body = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 OK") and len(body) == 1000000, (head, len(body))
    finally:
        daemon.cleanup()
