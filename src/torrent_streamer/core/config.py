"""Settings from the environment (prefix ``TS_``) or from ``TS_<NAME>_FILE`` secret files.

``Settings.production_problems()`` lists every reason production mode refuses to start.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "TS_"
MiB = 1024 * 1024
GiB = 1024 * MiB

# Values that must never be used as a secret in production.
DEV_SECRET_MARKERS = ("change-me", "changeme", "dev-", "insecure", "example", "secret")


class Environment(StrEnum):
    development = "development"
    production = "production"


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads ``TS_<FIELD>_FILE``: the named file's content (stripped) is the field's value."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(f"{ENV_PREFIX}{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {ENV_PREFIX}{field_name.upper()}_FILE: {exc.strerror}") from None
        return value, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every option of the service. Defaults are the embedded, zero-configuration mode."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    env: Environment = Environment.development
    debug: bool = False
    log_level: str = "INFO"
    data_dir: Path = Path("./data")

    database_url: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)
    redis_url: SecretStr | None = None
    redis_key_prefix: str = "ts"

    public_url: str | None = None  # this node's externally reachable base URL (stream URLs)
    node_id: str = "local"

    cors_origins: CsvList = Field(default_factory=list)
    trusted_hosts: CsvList = Field(default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"])
    trusted_proxies: CsvList = Field(default_factory=list)
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    max_body_bytes: int = Field(default=1 * MiB, ge=1024)
    max_upload_bytes: int = Field(default=10 * MiB, ge=1024)

    secret_key: SecretStr | None = None  # HMAC: stream URLs, CSRF, panel sessions
    encryption_keys: SecretStr | None = None  # "kid:base64key,kid2:base64key" newest first
    metrics_token: SecretStr | None = None

    access_token_ttl_seconds: int = Field(default=15 * 60, ge=60, le=3600)
    refresh_idle_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=300)
    refresh_absolute_ttl_seconds: int = Field(default=60 * 24 * 3600, ge=3600)
    jwt_issuer: str = "torrent-streamer"
    jwt_audience: str = "torrent-streamer-api"

    rate_limit_enabled: bool = True
    rate_limit_redis_retry_seconds: float = Field(default=5.0, ge=0.1)

    engine: str = "libtorrent"  # "libtorrent" or "memory" (tests)
    engine_listen_interfaces: str = "0.0.0.0:6881,[::]:6881"
    engine_enable_dht: bool = True
    engine_enable_lsd: bool = False
    engine_enable_upnp: bool = False
    engine_enable_natpmp: bool = False
    engine_enable_utp: bool = True
    engine_allow_private_networks: bool = False
    engine_download_rate_limit: int = Field(default=0, ge=0)
    engine_upload_rate_limit: int = Field(default=0, ge=0)
    engine_connections_limit: int = Field(default=200, ge=1)
    engine_proxy_url: SecretStr | None = None
    engine_cache_limit_bytes: int = Field(default=50 * GiB, ge=MiB)
    engine_metadata_timeout: float = Field(default=30.0, gt=0)
    engine_max_active_torrents_per_user: int = Field(default=10, ge=1)
    engine_resume_save_interval: float = Field(default=30.0, ge=1.0, le=3600)
    stream_token_ttl_seconds: int = Field(default=6 * 3600, ge=60, le=24 * 3600)
    # Resource caps (issue 12, item 6; sec-engine). Each refusal is 429 with Retry-After.
    stream_max_per_user: int = Field(default=6, ge=1, le=1000)  # open stream bodies per user (per node)
    events_max_per_user: int = Field(default=4, ge=1, le=1000)  # open SSE connections per user (per node)
    stream_max_readers: int = Field(default=256, ge=1, le=100_000)  # open stream bodies on this node, all users
    stream_busy_retry_after_seconds: int = Field(default=5, ge=1, le=3600)
    # Address-keyed (per client prefix, like every address limit; issue 12, item 2): stream bodies opened
    # (every GET of a raw stream URL that sends bytes, each Range request of a player included) and
    # signed stream URLs minted (the stream-URL and playback POSTs). Over: 429 with Retry-After.
    stream_open_limit: str = "600/minute"
    stream_mint_limit: str = "120/minute"
    engine_max_piece_length: int = Field(default=16 * MiB, ge=16 * 1024, le=256 * MiB)
    engine_max_metadata_size: int = Field(default=4 * MiB, ge=64 * 1024, le=100 * MiB)

    # --- accounts hardening (security wave 2; docs/auth.md, docs/operations.md) -----------------
    # Address-keyed limits count IPv4 clients per /32 and IPv6 clients per /64 (one subscriber).
    client_ipv4_prefix: int = Field(default=32, ge=8, le=32)
    client_ipv6_prefix: int = Field(default=64, ge=16, le=128)
    # Argon2id: at most this many at once, this many more waiting; beyond that 503 + Retry-After.
    password_hash_concurrency: int = Field(default=4, ge=1, le=64)
    password_hash_queue: int = Field(default=64, ge=0, le=10_000)
    # Failed sign-ins to one account from all addresses slow it down (never lock it), up to this.
    login_slowdown_max_seconds: float = Field(default=4.0, ge=0.0, le=10.0)
    # Retention (`torrent-streamer prune`, and hourly inside `serve`).
    audit_retention_days: int = Field(default=365, ge=30, le=3650)  # ≥ 30: see migration 0007
    prune_interval_seconds: float = Field(default=3600, ge=0.1, le=7 * 24 * 3600)

    # Stream start-up (docs/engine.md): TCP first, outgoing uTP only for torrents that find no peer.
    engine_outgoing_utp: bool = False
    engine_utp_fallback_seconds: float = Field(default=2.0, ge=0.1, le=60)
    # A stream token's database checks are reused this long per token (0: every request checks).
    stream_grant_ttl_seconds: float = Field(default=5.0, ge=0, le=60)

    # Catalog swarm health: the background tracker scrape (catalog/scrape.py, catalog/scrape_job.py).
    catalog_scrape_enabled: bool = True
    catalog_scrape_interval_seconds: float = Field(default=300.0, ge=1.0, le=86400)
    catalog_scrape_batch: int = Field(default=500, ge=1, le=10000)  # entries per round, oldest check first
    catalog_scrape_concurrency: int = Field(default=4, ge=1, le=64)  # trackers asked at once
    catalog_scrape_requests_per_second: float = Field(default=5.0, gt=0, le=1000)
    catalog_scrape_timeout_seconds: float = Field(default=5.0, ge=0.1, le=60)

    # Web app (issue 17): a magnet whose metadata has not arrived after this long is "dead": it shows an
    # error with a retry and stops counting towards the per-user torrent limit.
    library_metadata_give_up_seconds: float = Field(default=180.0, ge=1.0, le=24 * 3600)

    # Panel and indexer hardening (security wave 2, items 9-10).
    panel_reauth_window_seconds: int = Field(default=5 * 60, ge=30, le=3600)  # password + TOTP, destructive acts
    csp_report_limit: str = "30/minute"  # per client address
    csp_report_max_bytes: int = Field(default=8 * 1024, ge=512, le=64 * 1024)
    indexer_test_limit: str = "6/minute"  # per admin: the "test indexer" action

    # --- cluster (docs/deployment.md, "Running a cluster") ------------------------------
    # This node's stable name: logs, the ts_node_info metric, /readyz, the Redis holder lease.
    node_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    # Many nodes behind a balancer hashing stream URLs on the info-hash (needs TS_REDIS_URL):
    # one holder per torrent (a Redis lease), status published through Redis, non-holders release.
    cluster_enabled: bool = False
    cluster_lease_seconds: float = Field(default=10.0, ge=2.0, le=600)  # a dead holder's lease lapses after this
    cluster_interval_seconds: float = Field(default=1.0, gt=0, le=60)  # publish / store / release tick

    # Playback (media/): probe, HLS remux/transcode, encoders. See docs/streaming.md.
    media_ffmpeg_path: str | None = None  # default: the static ffmpeg of the imageio-ffmpeg wheel
    media_cache_dir: Path | None = None  # default: <data_dir>/media
    media_hw_encoder: Literal["none", "nvenc", "vaapi", "qsv"] = "none"
    media_max_encoders: int = Field(default=2, ge=1, le=64)
    media_encoder_idle_seconds: float = Field(default=60.0, ge=0.1, le=3600)
    media_segment_seconds: float = Field(default=6.0, ge=2.0, le=20.0)
    media_read_ahead_segments: int = Field(default=2, ge=0, le=20)
    media_segment_timeout: float = Field(default=120.0, ge=1.0, le=3600)
    media_probe_timeout: float = Field(default=60.0, ge=1.0, le=600)

    @field_validator("stream_open_limit", "stream_mint_limit")
    @classmethod
    def _limit_string(cls, value: str) -> str:
        """One ``limits`` rate string (``"600/minute"``), refused at start-up if it does not parse."""
        from limits import parse

        parse(value)
        return value

    @field_validator("cors_origins", "trusted_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, FileSecretsSource(settings_cls))

    # --- derived values -------------------------------------------------------------
    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def downloads_dir(self) -> Path:
        return self.data_dir / "downloads"

    @property
    def engine_state_dir(self) -> Path:
        return self.data_dir / "engine"

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'torrent-streamer.db').resolve()}"

    @property
    def uses_embedded_database(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def production_problems(self) -> list[str]:
        """Every reason this configuration must not run in production (empty when fine)."""
        problems: list[str] = []
        for name in ("secret_key", "encryption_keys", "database_url", "metrics_token"):
            value: SecretStr | None = getattr(self, name)
            env_name = f"{ENV_PREFIX}{name.upper()}"
            if value is None or not value.get_secret_value().strip():
                problems.append(f"{env_name} (or {env_name}_FILE) is not set")
            elif name != "database_url" and _looks_like_dev_secret(value.get_secret_value()):
                problems.append(f"{env_name} is a development default; generate a real secret")
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            problems.append(f"{ENV_PREFIX}SECRET_KEY must be at least 32 characters")
        if any(origin.strip() == "*" for origin in self.cors_origins):
            problems.append(f"{ENV_PREFIX}CORS_ORIGINS must list origins, not '*'")
        if any(host.strip() == "*" for host in self.trusted_hosts):
            problems.append(f"{ENV_PREFIX}TRUSTED_HOSTS must list host names, not '*'")
        if self.debug:
            problems.append(f"{ENV_PREFIX}DEBUG must be off in production")
        has_tls = self.tls_cert_file is not None and self.tls_key_file is not None
        if not has_tls and not self.trusted_proxies:
            problems.append(
                f"neither TLS ({ENV_PREFIX}TLS_CERT_FILE/{ENV_PREFIX}TLS_KEY_FILE) "
                f"nor a trusted proxy ({ENV_PREFIX}TRUSTED_PROXIES) is configured"
            )
        if self.cluster_enabled and self.redis_url is None:
            problems.append(
                f"{ENV_PREFIX}CLUSTER_ENABLED needs {ENV_PREFIX}REDIS_URL (leases and status are shared there)"
            )
        if self.engine == "memory":
            problems.append(f"{ENV_PREFIX}ENGINE=memory is for tests only")
        if self.engine_allow_private_networks:
            problems.append(
                f"{ENV_PREFIX}ENGINE_ALLOW_PRIVATE_NETWORKS=true lets the engine reach private networks (SSRF)"
            )
        if not self.rate_limit_enabled:
            problems.append(f"{ENV_PREFIX}RATE_LIMIT_ENABLED=false switches off brute-force protection")
        return problems


def _looks_like_dev_secret(value: str) -> bool:
    lowered = value.lower()
    return any(marker in lowered for marker in DEV_SECRET_MARKERS)


class ConfigurationError(RuntimeError):
    """The configuration cannot run; the message is one line meant for the operator."""


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


def check_production(settings: Settings) -> None:
    """Raise ConfigurationError with a one-line reason when production mode is unsafe."""
    if not settings.is_production:
        return
    problems = settings.production_problems()
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))
