"""Alert rules (SR-10.3): deploy/prometheus/alerts.yml parses, every rule is complete, and every
metric it names is exported by a running app's /metrics (so no alert silently watches nothing)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\bts_[a-z0-9_]+\b")
REQUIRED_SIGNALS = {
    "ts_http_errors_total",
    "ts_http_requests_total",
    "ts_http_request_duration_seconds_bucket",
    "ts_rate_limit_hits_total",
    "ts_auth_failures_total",
    "ts_refresh_token_reuse_total",
    "ts_ready",
    "ts_rate_limit_backend_errors_total",
    "ts_stream_stalls_total",
}


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def exported_series(exposition: str) -> set[str]:
    """Every series name a metric family can produce, from the ``# TYPE`` lines."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names: set[str] = set()
    for match in re.finditer(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE):
        family, kind = match.groups()
        if kind == "counter":  # client versions differ on whether the TYPE line keeps "_total"
            family = family.removesuffix("_total")
        names.update(family + suffix for suffix in suffixes.get(kind, ("",)))
    return names


def test_every_rule_is_complete_and_balanced(rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")"), rule["alert"]
        assert METRIC.search(expr), rule["alert"]


def test_the_required_signals_are_alerted_on(rules: list[dict[str, Any]]) -> None:
    named = {metric for rule in rules for metric in METRIC.findall(rule["expr"])}
    assert named >= REQUIRED_SIGNALS


async def test_every_metric_in_the_rules_exists_in_metrics(
    client: httpx.AsyncClient, rules: list[dict[str, Any]]
) -> None:
    await client.get("/readyz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    exported = exported_series(response.text)
    assert "ts_http_requests_total" in exported
    named = {metric for rule in rules for metric in METRIC.findall(rule["expr"])}
    missing = named - exported
    assert not missing, f"alerts name metrics the app does not export: {sorted(missing)}"
