"""The HTTPS settings: what goes together, and the URLs they make (README "HTTPS")."""
from __future__ import annotations

from pathlib import Path

import pytest

from pufferd.config import Settings, SettingsError, load_settings


def _load(tmp_path: Path, **values: object) -> Settings:
    return load_settings(tmp_path, **values)


def test_plain_http_is_the_default(tmp_path):
    settings = _load(tmp_path)
    assert not settings.tls_enabled and settings.base_url == "http://127.0.0.1:7575"


def test_certificate_files_make_links_https(tmp_path):
    settings = _load(tmp_path, tls_cert_file=tmp_path / "c.pem", tls_key_file=tmp_path / "k.pem", port=8443)
    assert settings.tls_enabled and settings.base_url == "https://127.0.0.1:8443"


@pytest.mark.parametrize(("values", "message"), [
    ({"tls_cert_file": "c.pem"}, "tls_cert_file and tls_key_file go together"),
    ({"tls_key_file": "k.pem"}, "tls_cert_file and tls_key_file go together"),
    ({"http_port": 8080}, "http_port redirects to HTTPS"),
    ({"acme_enabled": True, "http_port": 80}, "acme_enabled needs public_url = https://"),
    ({"acme_enabled": True, "http_port": 80, "public_url": "http://chat.example.org"},
     "acme_enabled needs public_url = https://"),
    ({"acme_enabled": True, "public_url": "https://chat.example.org"}, "acme_enabled needs http_port"),
    ({"acme_enabled": True, "http_port": 80, "public_url": "https://chat.example.org",
      "tls_cert_file": "c.pem", "tls_key_file": "k.pem"}, "acme_enabled and tls_cert_file exclude each other"),
])
def test_settings_that_do_not_go_together_are_one_error(tmp_path, values, message):
    with pytest.raises(SettingsError, match=message):
        _load(tmp_path, **values)


def test_acme_certificates_are_for_the_public_url_host(tmp_path):
    settings = _load(tmp_path, acme_enabled=True, http_port=80, public_url="https://Chat.Example.org:8443/")
    assert settings.acme_domain == "chat.example.org" and settings.tls_enabled
    assert settings.base_url == "https://Chat.Example.org:8443"
    assert settings.acme_directory_url == "https://acme-v02.api.letsencrypt.org/directory"
