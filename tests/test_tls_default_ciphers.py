"""The TLS 1.2 cipher suites a daemon takes with ``ciphers`` unset and set, as docs/tls.md
says them: unset, Python's ``ssl`` defaults (no SHA-1 suite, which Node's default list
takes); ``"DEFAULT"``, OpenSSL's (the SHA-1 suites too). Real daemons, ``openssl s_client``
offering one suite."""

import subprocess

import pytest

import test_hostile_net_tls
from daemon import Daemon

pki = test_hostile_net_tls.pki  # the module's fixture: a CA and the server's ECDSA certificate


def negotiated(port, suite):
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2", "-cipher", suite],
                         input=b"", capture_output=True, timeout=30)
    text = out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")
    return f"Cipher is {suite}" in text


@pytest.mark.parametrize("ciphers, sha1_taken", [(None, False), ("DEFAULT", True)])
def test_the_tls12_suites_are_as_documented(pki, ciphers, sha1_taken):
    extra = ("--ciphers", ciphers) if ciphers else ()
    d = Daemon("--certfile", pki.cert, "--keyfile", pki.key, *extra, app="apps.tls_app:setup", workers=1)
    try:
        d.wait_ready()
        assert negotiated(d.port, "ECDHE-ECDSA-AES128-GCM-SHA256")
        assert negotiated(d.port, "ECDHE-ECDSA-AES128-SHA") is sha1_taken
        assert d.workers()  # the worker is up after the refusal
    finally:
        d.cleanup()
