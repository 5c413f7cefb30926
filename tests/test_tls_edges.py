"""A key of another type than the certificate's (an RSA key for an ECDSA certificate, as
after a renewal that switched algorithms) is reported as not matching the certificate,
as a mismatched key of the same type is; it used to say the key file "holds no usable
private key". Keys and certificates made by the test with the openssl command."""

import shutil
import subprocess
import sys

import pytest

from daemon import python_env

OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="openssl missing")
def test_a_key_of_another_type_does_not_match_the_certificate(tmp_path):
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", "ec.key", "-out", "ec.pem", "-subj", "/CN=localhost", "-days", "2"],
                   cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([OPENSSL, "genrsa", "-out", "rsa.key", "2048"], cwd=tmp_path, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-m", "prefork", "check-config", "--certfile", "ec.pem", "--keyfile",
                          "rsa.key"], capture_output=True, text=True, env=python_env(), timeout=60, cwd=tmp_path)
    assert out.returncode == 2, out
    assert out.stderr.strip().splitlines()[-1] == ("argv:--keyfile: the key in rsa.key does not match the "
                                                   "certificate in ec.pem (its first certificate, which must "
                                                   "be the server's)")
