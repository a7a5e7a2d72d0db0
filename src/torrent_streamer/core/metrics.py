"""Prometheus metrics, one registry per app instance (nothing registered at import time).

Domains record through the ``Metrics`` object on ``app.state``; ``/metrics`` needs a bearer
token (``TS_METRICS_TOKEN``) or a loopback client, or is served on a separate bind.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, node: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "ts_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"], registry=r
        )
        self.http_errors = Counter("ts_http_errors_total", "HTTP responses with status >= 500", ["route"], registry=r)
        self.http_latency = Histogram(
            "ts_http_request_duration_seconds", "HTTP latency", ["method", "route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.rate_limited = Counter(
            "ts_rate_limit_hits_total", "Requests refused by a rate limit", ["limit"], registry=r
        )
        self.rate_limit_backend_errors = Counter(
            "ts_rate_limit_backend_errors_total", "Shared rate-limit store failures (fell back to memory)", registry=r
        )
        self.auth_failures = Counter(
            "ts_auth_failures_total", "Failed authentications by reason", ["reason"], registry=r
        )
        self.auth_events = Counter(
            "ts_auth_events_total", "Authentication events (login, refresh, logout, mfa)", ["event"], registry=r
        )
        self.refresh_reuse = Counter(
            "ts_refresh_token_reuse_total", "Rotated refresh tokens presented again (family revoked)", registry=r
        )
        self.stream_ttfb = Histogram(
            "ts_stream_time_to_first_byte_seconds",
            "Stream request to first body byte",
            buckets=STREAM_BUCKETS,
            registry=r,
        )
        self.stream_seek = Histogram(
            "ts_stream_seek_seconds", "Seek (non-zero offset) to first byte", buckets=STREAM_BUCKETS, registry=r
        )
        self.stream_stalls = Counter("ts_stream_stalls_total", "Reads that waited on a missing piece", registry=r)
        self.stream_stalled_seconds = Counter(
            "ts_stream_stalled_seconds_total", "Seconds readers spent waiting on missing pieces", registry=r
        )
        self.stream_bytes = Counter("ts_stream_bytes_total", "Bytes served to players", registry=r)
        self.stream_sendfile_bytes = Counter(
            "ts_stream_sendfile_bytes_total", "Of those, bytes sent from the file by sendfile (zero-copy)", registry=r
        )
        self.media_first_segment = Histogram(
            "ts_media_first_segment_seconds",
            "Playback answer to its first HLS segment on disk",
            buckets=STREAM_BUCKETS,
            registry=r,
        )
        self.media_seek_segment = Histogram(
            "ts_media_seek_segment_seconds",
            "Segment request that (re)started an encoder away from the start to segment on disk",
            buckets=STREAM_BUCKETS,
            registry=r,
        )
        self.media_encoder_restarts = Counter(
            "ts_media_encoder_restarts_total", "Encoders restarted by a request far from them", registry=r
        )
        self.media_encoders = Gauge("ts_media_encoders", "Running HLS encoders", registry=r)
        self.media_encoder_restarts_per_variant = Histogram(
            "ts_media_encoder_restarts_per_variant",
            "At each restart: how many restarts that file variant has had so far (far seeks per title)",
            buckets=(1, 2, 3, 5, 8, 13, 21),
            registry=r,
        )
        self.media_active_encoders = Histogram(
            "ts_media_active_encoders",
            "Running HLS encoders, observed at every encoder start and stop",
            buckets=(0, 1, 2, 3, 4, 6, 8, 12, 16),
            registry=r,
        )
        self.engine_torrents = Gauge("ts_engine_torrents", "Torrents in the engine", registry=r)
        self.engine_readers = Gauge("ts_engine_readers", "Open stream readers", registry=r)
        self.engine_download_rate = Gauge("ts_engine_download_bytes_per_second", "Download rate", registry=r)
        self.engine_upload_rate = Gauge("ts_engine_upload_bytes_per_second", "Upload rate", registry=r)
        self.engine_cache_bytes = Gauge("ts_engine_cache_bytes", "Bytes of torrent data on disk", registry=r)
        self.readiness = Gauge("ts_ready", "1 when every readiness check passes", registry=r)
        # An info metric: join on it (``* on(instance) group_left(node)``) to label any series by node.
        self.node_info = Gauge("ts_node_info", "This node's name (TS_NODE_NAME), value 1", ["node"], registry=r)
        if node:
            self.node_info.labels(node).set(1)

    def on_encoder_restart(self, so_far: int) -> None:
        self.media_encoder_restarts.inc()
        self.media_encoder_restarts_per_variant.observe(so_far)

    def on_active_encoders(self, running: int) -> None:
        self.media_encoders.set(running)
        self.media_active_encoders.observe(running)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)
        if status >= 500:
            self.http_errors.labels(route).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
