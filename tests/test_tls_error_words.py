"""What a refusal of a TLS file says: OpenSSL's reason in words, without the library's tag
or CPython's source place (a reload refused for a broken certificate said "not a valid
certificate ([x509] pem lib ( ssl.c:4154))")."""

import pytest

from prefork.net.tlsconfig import ContextError, build_context
from test_tls import pki  # noqa: F401  (a fixture)


@pytest.mark.parametrize("key", ["certfile", "ca_certs"])
def test_a_broken_pem_block_is_named_without_cpythons_source_place(pki, tmp_path, key):  # noqa: F811
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    values = {"certfile": pki.cert, "keyfile": pki.key, key: str(broken), "verify_client": "none"}
    with pytest.raises(ContextError) as info:
        build_context(values)
    what = "not a valid certificate" if key == "certfile" else "not a valid CA bundle"
    assert info.value.key == key and str(info.value) == f"{broken}: {what} (pem lib)"


def test_an_openssl_reason_code_is_said_in_words(pki):  # noqa: F811
    with pytest.raises(ContextError) as info:
        build_context({"certfile": pki.cert, "keyfile": pki.key, "ca_certs": pki.key, "verify_client": "required"})
    assert str(info.value) == f"{pki.key}: not a valid CA bundle (no certificate or crl found)"
