"""The sandbox CA (sandbox/tls.py): made once, reused while valid, trusted by clients."""

from __future__ import annotations

import ipaddress
import os
import ssl
from pathlib import Path

import httpx
from cryptography import x509

from sandbox.emulators.identity import create_app
from sandbox.emulators.server import EmulatorServer
from sandbox.tls import ensure_tls


def test_the_ca_is_reused_across_restarts(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path)
    ca, server = first.ca_path.read_bytes(), first.cert_path.read_bytes()
    again = ensure_tls(tmp_path)
    assert again.ca_path.read_bytes() == ca and again.cert_path.read_bytes() == server


def test_a_broken_server_certificate_is_remade_under_the_same_ca(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path)
    ca = tls.ca_path.read_bytes()
    tls.cert_path.write_text("garbage")
    ensure_tls(tmp_path)
    assert tls.ca_path.read_bytes() == ca
    leaf = x509.load_pem_x509_certificates(tls.cert_path.read_bytes())[0]
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))


def test_a_broken_ca_is_remade(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path)
    ca = tls.ca_path.read_bytes()
    tls.ca_key_path.write_text("garbage")
    ensure_tls(tmp_path)
    assert tls.ca_path.read_bytes() != ca


def test_the_server_certificate_names_127_0_0_1_and_localhost(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path)
    leaf = x509.load_pem_x509_certificates(tls.cert_path.read_bytes())[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "localhost" in sans.get_values_for_type(x509.DNSName)


def test_trust_env_and_an_https_emulator(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path)
    env: dict[str, str] = {}
    tls.trust_env(env)
    bundle = str(tls.bundle_path)
    assert env == {"SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle}
    assert os.environ.get("SSL_CERT_FILE") != bundle  # the process is untouched
    text = tls.bundle_path.read_text()
    assert text.startswith(tls.ca_path.read_text().strip())
    assert text.count("BEGIN CERTIFICATE") > 1  # the CAs trusted before are kept
    with EmulatorServer(
        create_app().asgi, ssl_certfile=str(tls.cert_path), ssl_keyfile=str(tls.key_path)
    ) as server:
        assert server.url.startswith("https://")
        url = f"{server.url}/shuttle-sandbox/v2.0/.well-known/openid-configuration"
        assert httpx.get(url, verify=tls.client_context()).status_code == 200
        trusting = ssl.create_default_context(cafile=bundle)
        assert httpx.get(url, verify=trusting).status_code == 200
