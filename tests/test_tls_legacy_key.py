"""A key encrypted with a cipher OpenSSL 3 moved to its legacy provider (DES, RC2,
Blowfish, ...: keys made by old tools) cannot be read whatever the password: the error
names the cipher and how to re-encrypt the key, where it said "wrong password" for the
right one."""

import json
import subprocess
import sys

import pytest

from daemon import python_env
from test_tls import pki  # noqa: F401  (a fixture)

LEGACY = ["-provider", "legacy", "-provider", "default"]


def _start(pki, tmp_path, key, password):  # noqa: F811
    values = {"certfile": pki.cert, "keyfile": key, "keyfile_password": password,
              "bind": ["https://127.0.0.1:0"], "metrics_bind": ""}
    config = tmp_path / "prefork.toml"
    config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    out = subprocess.run([sys.executable, "-m", "prefork", "--config", str(config)], capture_output=True,
                         text=True, env=python_env(), timeout=60, cwd=tmp_path)
    return config, out


@pytest.mark.parametrize("how, cipher", [
    (["ec", *LEGACY, "-des"], "DES-CBC"),  # traditional PEM: "DEK-Info: DES-CBC,..."
    (["pkcs8", *LEGACY, "-topk8", "-v2", "des-cbc"], "DES-CBC"),  # PKCS#8, PBES2
    (["pkcs8", *LEGACY, "-topk8", "-v1", "PBE-SHA1-RC2-40"], "PBE-SHA1-RC2-40"),  # PKCS#8, PKCS#12's scheme
])
@pytest.mark.parametrize("password", ["secret", "wrong"])
def test_a_key_in_a_legacy_cipher_is_named_as_such_not_as_a_wrong_password(pki, tmp_path, how, cipher,  # noqa: F811
                                                                         password):
    key = tmp_path / "legacy.key"
    subprocess.run(["openssl", *how, "-in", pki.key, "-passout", "pass:secret", "-out", str(key)], check=True,
                   capture_output=True, timeout=60)
    config, out = _start(pki, tmp_path, str(key), password)
    assert out.returncode == 2, out.stderr
    assert (f"{config}:keyfile: the key in {key} is encrypted with {cipher}, which OpenSSL 3 reads only with its "
            f"legacy provider (not loaded): re-encrypt it with AES (openssl pkey -provider legacy -provider default "
            f"-in {key} -aes256 -out NEW.key)") in out.stderr, out.stderr
    assert "wrong password" not in out.stderr


def test_a_key_in_3des_with_a_wrong_password_is_still_a_wrong_password(pki, tmp_path):  # noqa: F811
    key = tmp_path / "3des.key"
    subprocess.run(["openssl", "ec", "-des3", "-in", pki.key, "-passout", "pass:secret", "-out", str(key)],
                   check=True, capture_output=True, timeout=60)
    config, out = _start(pki, tmp_path, str(key), "wrong")
    assert out.returncode == 2, out.stderr
    assert f"{config}:keyfile_password: wrong password for the key in {key}" in out.stderr, out.stderr
