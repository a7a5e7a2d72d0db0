"""Settings: production refusals (SR-1.3, SR-4.3, SR-7.3), secret files, dev secrets (0600)."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest

from torrent_streamer.core.config import ConfigurationError, Settings, check_production
from torrent_streamer.core.secrets import ensure_dev_secrets, new_encryption_key_entry


def good_production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "production",
        "secret_key": secrets.token_urlsafe(48),
        "encryption_keys": new_encryption_key_entry(),
        "database_url": "postgresql+asyncpg://app@db/ts",
        "metrics_token": secrets.token_urlsafe(32),
        "trusted_proxies": ["10.0.0.0/8"],
        "trusted_hosts": ["stream.example.org"],
        "cors_origins": ["https://app.example.org"],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_a_complete_production_configuration_starts() -> None:
    check_production(good_production())


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"secret_key": None}, "TS_SECRET_KEY (or TS_SECRET_KEY_FILE) is not set"),
        ({"secret_key": "change-me-please-change-me-please-123"}, "TS_SECRET_KEY is a development default"),
        ({"secret_key": "short"}, "TS_SECRET_KEY must be at least 32 characters"),
        ({"encryption_keys": None}, "TS_ENCRYPTION_KEYS (or TS_ENCRYPTION_KEYS_FILE) is not set"),
        ({"database_url": None}, "TS_DATABASE_URL (or TS_DATABASE_URL_FILE) is not set"),
        ({"metrics_token": None}, "TS_METRICS_TOKEN (or TS_METRICS_TOKEN_FILE) is not set"),
        ({"cors_origins": ["*"]}, "TS_CORS_ORIGINS must list origins, not '*'"),
        ({"trusted_hosts": ["*"]}, "TS_TRUSTED_HOSTS must list host names, not '*'"),
        ({"debug": True}, "TS_DEBUG must be off in production"),
        ({"trusted_proxies": []}, "neither TLS"),
        ({"engine": "memory"}, "TS_ENGINE=memory is for tests only"),
        ({"engine_allow_private_networks": True}, "TS_ENGINE_ALLOW_PRIVATE_NETWORKS=true"),
        ({"rate_limit_enabled": False}, "TS_RATE_LIMIT_ENABLED=false"),
    ],
)
def test_production_refuses_each_unsafe_setting_with_a_one_line_reason(
    overrides: dict[str, object], reason: str
) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        check_production(good_production(**overrides))
    message = str(excinfo.value)
    assert reason in message
    assert "\n" not in message


def test_tls_satisfies_the_transport_requirement(tmp_path: Path) -> None:
    check_production(good_production(trusted_proxies=[], tls_cert_file=tmp_path / "c", tls_key_file=tmp_path / "k"))


def test_development_allows_what_production_refuses() -> None:
    check_production(Settings(debug=True, cors_origins=["*"]))


def test_secrets_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("  " + "x" * 40 + "\n")
    monkeypatch.setenv("TS_SECRET_KEY_FILE", str(secret_file))
    monkeypatch.setenv("TS_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "x" * 40
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_unreadable_secret_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TS_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="cannot read TS_SECRET_KEY_FILE"):
        Settings()


def test_secrets_never_appear_in_the_settings_repr() -> None:
    settings = good_production()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() not in repr(settings)


def test_development_generates_private_keys_once(tmp_path: Path) -> None:
    settings = ensure_dev_secrets(Settings(data_dir=tmp_path))
    again = ensure_dev_secrets(Settings(data_dir=tmp_path))
    assert settings.secret_key is not None
    assert again.secret_key is not None
    assert settings.secret_key.get_secret_value() == again.secret_key.get_secret_value()
    for name in ("secret.key", "encryption.keys"):
        mode = stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode)
        assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_production_never_generates_secrets(tmp_path: Path) -> None:
    settings = ensure_dev_secrets(good_production(data_dir=tmp_path, secret_key=None))
    assert settings.secret_key is None
    assert not (tmp_path / "keys").exists()


def test_invalid_trusted_proxy_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings(trusted_proxies=["not-an-address"])
