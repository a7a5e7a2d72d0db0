"""Deployment artefacts keep their invariants (SR-7.1, SR-4.1, SR-5.1, SR-4.3): no Docker engine
runs here, so the Dockerfile, compose file and proxy configs are parsed and checked instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|_KEY|KEYS|DATABASE_URL|REDIS_URL|CREDENTIAL)", re.IGNORECASE)


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    pairs = []
    for entry in logical:
        keyword, _, rest = entry.partition(" ")
        pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def explicit_tag(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :]


def test_dockerfile_parser_joins_continuations_and_drops_comments() -> None:
    parsed = dockerfile_instructions("# c\nFROM a:1 AS b\nRUN x \\\n  # inner\n  && y\nUSER 1\n")
    assert parsed == [("FROM", "a:1 AS b"), ("RUN", "x && y"), ("USER", "1")]


def test_every_base_image_has_an_explicit_tag(dockerfile: list[tuple[str, str]]) -> None:
    images = [args.split()[0] for keyword, args in dockerfile if keyword == "FROM"]
    stages = {args.split()[-1] for keyword, args in dockerfile if keyword == "FROM" and " AS " in args.upper()}
    external = [image for image in images if image not in stages]
    assert len(images) >= 2, "multi-stage build expected"
    assert all(explicit_tag(image) for image in external), external
    runtime = final_stage(dockerfile)[0][1].split()[0]
    assert runtime.startswith("python:3.11-slim"), "the runtime stage is a slim Python base"


def test_the_runtime_runs_as_a_numeric_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = [args for keyword, args in final_stage(dockerfile) if keyword == "USER"]
    assert users, "the runtime stage must switch user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) >= 1000


def test_dependencies_come_only_from_the_lockfile(dockerfile: list[tuple[str, str]]) -> None:
    runs = [args for keyword, args in dockerfile if keyword == "RUN"]
    syncs = [command for command in runs if "uv sync" in command]
    assert syncs
    assert all("--frozen" in command and "--no-dev" in command for command in syncs)
    assert not any(re.search(r"\bpip3? install\b|uv pip install|uv add|uv lock", command) for command in runs)
    assert any(keyword == "COPY" and "uv.lock" in args for keyword, args in dockerfile)


def test_no_secret_is_baked_into_the_image(dockerfile: list[tuple[str, str]]) -> None:
    for keyword, args in dockerfile:
        if keyword in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            leaking = [name for name in names if SECRET_NAME.search(name) and not name.endswith("_FILE")]
            assert not leaking, f"{keyword} {args}"
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"secrets|\.env|keys|\.pem", args), f"{keyword} {args}"


def test_only_the_service_port_a_healthcheck_and_a_data_volume(dockerfile: list[tuple[str, str]]) -> None:
    runtime = final_stage(dockerfile)
    assert [args for keyword, args in runtime if keyword == "EXPOSE"] == ["8000"]
    healthchecks = [args for keyword, args in runtime if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/healthz" in healthchecks[0]
    assert [args for keyword, args in runtime if keyword == "STOPSIGNAL"] == ["SIGTERM"]
    assert any(keyword == "VOLUME" and "/data" in args for keyword, args in runtime)
    assert any(keyword == "ENV" and "TS_ENV=production" in args for keyword, args in runtime)


def test_the_build_context_admits_only_what_the_image_needs() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    assert entries[0] == "*", "deny everything, then allow the build inputs"
    allowed = {line[1:].rstrip("/") for line in entries if line.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "src"}


def test_compose_images_are_tagged_and_the_service_is_locked_down(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if "image" in service:
            assert explicit_tag(service["image"]), name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
    app = services["app"]
    assert app["read_only"] is True
    assert app["cap_drop"] == ["ALL"]
    assert any(entry.startswith("/tmp:") for entry in app["tmpfs"])
    assert app["user"].split(":")[0] == "10001"
    assert all(str(port).startswith("127.0.0.1:") for port in app["ports"])
    assert [volume.split(":")[1] for volume in app["volumes"]] == ["/data"]
    assert "privileged" not in app
    assert "network_mode" not in app


def test_compose_passes_secrets_as_files_only(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        for variable, value in environment.items():
            if SECRET_NAME.search(variable) and not variable.endswith("_FILE"):
                pytest.fail(f"{name}: {variable} carries a secret in the environment")
            if variable.endswith("_FILE"):
                assert str(value).startswith("/run/secrets/"), f"{name}: {variable}"
        assert "command" not in service or not any("password" in str(arg).lower() for arg in service["command"])
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./deploy/secrets/")
    ignored = (ROOT / "deploy/secrets/.gitignore").read_text().splitlines()
    assert "*" in ignored, "generated secrets are never committed"


def test_the_app_uses_the_app_role_and_migrations_use_the_owner(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["app"]["environment"]["TS_DATABASE_URL_FILE"] == "/run/secrets/app_database_url"
    assert services["migrate"]["environment"]["TS_DATABASE_URL_FILE"] == "/run/secrets/owner_database_url"
    assert services["migrate"]["command"][:3] == ["torrent-streamer", "db", "upgrade"]
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    script = (ROOT / "deploy/make-secrets.sh").read_text()
    assert "ts_app:" in script.split("app_database_url", 1)[1].splitlines()[0]
    assert "ts_owner:" in script.split("owner_database_url", 1)[1].splitlines()[0]


def nginx_blocks(text: str) -> list[str]:
    """The bodies of the top-level ``server { ... }`` blocks (comments removed)."""
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    blocks, depth, start = [], 0, -1
    for match in re.finditer(r"\bserver\s*\{|\{|\}", text):
        token = match.group(0)
        if token.startswith("server") and depth == 0:
            start = match.end()
            depth = 1
        elif token == "{" and depth:
            depth += 1
        elif token == "}" and depth:
            depth -= 1
            if depth == 0:
                blocks.append(text[start : match.start()])
    return blocks


def directives(block: str, name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf'(?m)^\s*{name}\s+((?:"[^"]*"|[^;"])*);', block)]


def test_nginx_serves_tls_1_2_plus_with_hsts_and_redirects_http() -> None:
    blocks = nginx_blocks((ROOT / "deploy/nginx/torrent-streamer.conf").read_text())
    plain = [b for b in blocks if any(listen.split()[0].endswith("80") for listen in directives(b, "listen"))]
    tls = [b for b in blocks if any("ssl" in listen.split() for listen in directives(b, "listen"))]
    assert plain
    assert tls
    for block in plain:
        assert "return 308 https://$host$request_uri" in block
    for block in tls:
        protocols = directives(block, "ssl_protocols")
        assert protocols
        assert set(protocols[0].split()) <= {"TLSv1.2", "TLSv1.3"}
        ciphers = directives(block, "ssl_ciphers")[0]
        assert all(weak not in ciphers for weak in ("RC4", "3DES", "MD5", "NULL", "EXPORT", "CBC"))
        assert "ECDHE" in ciphers
        hsts = directives(block, "add_header")
        assert any("Strict-Transport-Security" in h and "max-age=63072000" in h and "always" in h for h in hsts)
        # the client's own X-Forwarded-For is overwritten, never appended to
        forwarded = directives(block, "proxy_set_header")
        assert "X-Forwarded-For $remote_addr" in forwarded
        assert not any("$proxy_add_x_forwarded_for" in h for h in forwarded)
        assert "X-Forwarded-Proto $scheme" in forwarded
        assert "off" in directives(block, "proxy_buffering")
        assert any(int(value.rstrip("s")) >= 3600 for value in directives(block, "proxy_read_timeout"))
        assert "off" in directives(block, "server_tokens")


def test_caddy_alternative_keeps_tls_1_2_plus_and_hsts() -> None:
    caddyfile = (ROOT / "deploy/caddy/Caddyfile").read_text()
    assert re.search(r"protocols\s+tls1\.2\s+tls1\.3", caddyfile)
    assert 'Strict-Transport-Security "max-age=63072000' in caddyfile
    assert "flush_interval -1" in caddyfile
    assert "127.0.0.1:8000" in caddyfile
