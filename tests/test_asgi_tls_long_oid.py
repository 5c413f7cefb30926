"""A client certificate whose subject holds an attribute with an absurdly long OID (one
arc of 100,000 digits; OpenSSL signs and accepts it): its ``client_cert_name`` keeps the
rest of the name, that attribute written with no type as OpenSSL writes it. Reading
such an arc as a number took the worker's loop ~0.6 s per connection and then passed
``str``'s digit limit, and the whole name came out None."""

import ssl
import subprocess

from debian import ensure
from prefork.asgi.tls import subject_name


def test_a_subject_with_an_overlong_oid_keeps_the_rest_of_its_name(tmp_path):
    path, why = ensure("openssl", "openssl")
    assert path is not None, why
    config = tmp_path / "big.cnf"
    config.write_text("oid_section = new_oids\n[new_oids]\nbigname = 1.2." + "9" * 100000 + "\n"
                      "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nbigname = x\nCN = big\n")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem"), "-days", "1",
                    "-config", str(config)], check=True, capture_output=True, timeout=60)
    der = ssl.PEM_cert_to_DER_cert((tmp_path / "c.pem").read_text())
    name = subject_name(der)
    assert name == "CN=big,=#0c0178", name  # (x as a UTF8String: tag 0c, length 01, 'x')
    openssl = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "c.pem"), "-noout", "-subject", "-nameopt",
                              "RFC2253"], check=True, capture_output=True, text=True, timeout=60).stdout
    assert openssl.strip() == "subject=CN=big,=#0C0178", openssl  # (OpenSSL writes the hex in capitals)
