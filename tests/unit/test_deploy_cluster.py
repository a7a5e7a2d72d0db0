"""The cluster's operator artefacts keep their invariants: HAProxy's config is valid (``haproxy -c``)
and hashes streams on the info-hash segment only, health-checks /readyz and allows long streams;
the compose profile has three named nodes behind it; the Kubernetes manifests give each node a
name, a volume and a readiness probe, and run migrations once."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from torrent_streamer.streaming.urls import routing_info_hash

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "deploy/haproxy/haproxy.cfg"
K8S = ROOT / "deploy/k8s"


def sections(text: str) -> dict[str, list[str]]:
    """``{"backend streams": [directive lines], ...}`` with comments removed."""
    found: dict[str, list[str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            current = " ".join(line.split())
            found[current] = []
        else:
            found[current].append(" ".join(line.split()))
    return found


@pytest.fixture(scope="module")
def haproxy() -> dict[str, list[str]]:
    return sections(HAPROXY_CFG.read_text(encoding="utf-8"))


def test_haproxy_accepts_the_config() -> None:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        pytest.fail("haproxy is not installed: scripts/test.sh and .ci/run install it (apt-get install haproxy)")
    result = subprocess.run([binary, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")


def field(path: str, number: int, sep: str = "/") -> str:
    """HAProxy's ``field(number, sep)`` converter: 1-based, empty when out of range."""
    parts = path.split(sep)
    return parts[number - 1] if 0 < number <= len(parts) else ""


def test_streams_hash_on_the_info_hash_segment_only_with_consistent_hashing(haproxy: dict[str, list[str]]) -> None:
    streams = haproxy["backend streams"]
    balance = [line for line in streams if line.startswith("balance ")]
    assert balance == ["balance hash path,field(5,/),lower"]
    assert "hash-type consistent" in streams
    info_hash = "ab" * 20
    for path in (
        f"/api/v1/stream/{info_hash}/payload.mac",
        f"/api/v1/stream/{info_hash.upper()}/other-token.x/hls/master.m3u8",
    ):
        key = field(path, 5).lower()
        assert key == info_hash == routing_info_hash(path)  # the token never takes part
    frontend = haproxy["frontend torrent_streamer"]
    assert "acl is_stream path_beg /api/v1/stream/" in frontend
    assert "use_backend streams if is_stream" in frontend
    assert "default_backend api" in frontend
    assert "balance roundrobin" in haproxy["backend api"]


def test_haproxy_checks_readyz_and_allows_long_streams(haproxy: dict[str, list[str]]) -> None:
    for backend in ("backend api", "backend streams"):
        lines = haproxy[backend]
        assert "option httpchk" in lines
        assert any(line.startswith("http-check send meth GET uri /readyz") for line in lines), backend
        assert "http-check expect status 200" in lines
        servers = [line for line in lines if line.startswith("server ")]
        assert [s.split()[1] for s in servers] == ["node1", "node2", "node3"]
    defaults = haproxy["defaults"]
    assert any(re.fullmatch(r"default-server .*\bcheck\b.*", line) for line in defaults)
    assert "option redispatch" in defaults
    for name in ("client", "server"):
        (value,) = [line.split()[2] for line in defaults if line.startswith(f"timeout {name} ")]
        assert value.endswith("h") or int(value.rstrip("ms")) >= 3600, name


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_cluster_profile_has_three_named_nodes_behind_haproxy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nodes = [name for name, s in services.items() if "cluster" in s.get("profiles", []) and name != "haproxy"]
    assert nodes == ["node1", "node2", "node3"]
    volumes = set()
    for name in nodes:
        env = services[name]["environment"]
        assert env["TS_NODE_NAME"] == name
        assert env["TS_CLUSTER_ENABLED"] == "true"
        assert env["TS_DATABASE_URL_FILE"] == "/run/secrets/app_database_url"
        assert "TS_REDIS_URL_FILE" in env
        assert "ports" not in services[name]  # reached through the balancer only
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        volumes.add(services[name]["volumes"][0].split(":")[0])
    assert len(volumes) == 3  # a cache per node
    haproxy = services["haproxy"]
    assert haproxy["profiles"] == ["cluster"]
    assert "./deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in haproxy["volumes"]
    assert set(haproxy["depends_on"]) == set(nodes)


def k8s(kind: str) -> dict[str, Any]:
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == kind:
                return document
    raise AssertionError(f"no {kind} in deploy/k8s")


def test_k8s_statefulset_gives_each_node_a_name_a_volume_and_a_readiness_probe() -> None:
    sts = k8s("StatefulSet")
    spec = sts["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["TS_NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["TS_CLUSTER_ENABLED"]["value"] == "true"
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "METRICS_TOKEN"):
        assert f"TS_{name}" not in env  # secrets reach the node as files only
        assert env[f"TS_{name}_FILE"]["value"].startswith("/run/secrets/")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "Host", "value": "localhost"} in container["readinessProbe"]["httpGet"]["httpHeaders"]
    (claim,) = spec["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in container["volumeMounts"]
    service = k8s("Service")
    assert service["metadata"]["name"] == spec["serviceName"]
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_k8s_migrations_run_once_as_the_owner() -> None:
    job = k8s("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][:3] == ["torrent-streamer", "db", "upgrade"]
    assert {"name": "TS_DATABASE_URL_FILE", "value": "/run/secrets/owner_database_url"} in container["env"]
