"""A certificate file OpenSSL refuses with no reason of its own ("PEM lib") because it is
cut (a HUP while the renewal tool is still copying the chain) names the certificate that
is cut: the error said "not a valid certificate (pem lib)". At a HUP the reload is
refused with those words and the running certificate serves on."""

import shutil
import signal

import pytest

from prefork.net.tlsconfig import ContextError, build_context
from test_tls import SERVER_SERIAL, client_context, connect, get, pki  # noqa: F401  (pki: a fixture)

CUT = "certificate 2 of the file is cut: its BEGIN line has no END line (a file still being written, or cut in a copy?)"


def _chain(pki, tmp_path, second):  # noqa: F811
    """A copy of the server certificate followed by ``second``: the file's path."""
    path = tmp_path / "chain.pem"
    path.write_bytes(open(pki.cert, "rb").read() + second)
    return str(path)


def _error(certfile, key):
    with pytest.raises(ContextError) as caught:
        build_context({"certfile": certfile, "keyfile": key})
    return caught.value


def test_a_chain_cut_in_its_second_certificate_is_named_so(pki, tmp_path):  # noqa: F811
    ca = open(pki.ca, "rb").read()
    err = _error(_chain(pki, tmp_path, ca[:len(ca) // 2]), pki.key)
    assert err.key == "certfile" and str(err).endswith(": " + CUT), str(err)


def test_a_certificate_without_its_end_line_is_named_so(pki, tmp_path):  # noqa: F811
    ca = open(pki.ca, "rb").read()
    err = _error(_chain(pki, tmp_path, ca.replace(b"-----END CERTIFICATE-----", b"")), pki.key)
    assert str(err).endswith(": " + CUT), str(err)


def test_a_hup_with_a_cut_chain_is_refused_with_those_words_and_the_old_one_serves(daemons, pki,  # noqa: F811
                                                                                tmp_path):
    certfile = tmp_path / "fullchain.pem"
    shutil.copyfile(pki.cert, certfile)
    daemon = daemons("--certfile", str(certfile), "--keyfile", pki.key, app="apps.tls_app:setup", workers=1)
    daemon.wait_ready()
    ca = open(pki.ca, "rb").read()
    certfile.write_bytes(open(pki.cert, "rb").read() + ca[:len(ca) // 2])  # the renewal's copy, half done
    daemon.signal(signal.SIGHUP)
    daemon.wait_log(r"reload refused")
    log = daemon.log()
    assert f"reload: argv:--certfile: {certfile}: {CUT}" in log, log
    with connect(daemon.port, client_context(pki)) as sock:  # the running certificate serves on
        assert sock.getpeercert()["serialNumber"] == SERVER_SERIAL
        get(sock, close=True)
