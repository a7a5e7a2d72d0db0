"""Supply-chain and CI gates stay in place (SR-8, SR-9): lockfile-only installs, the gate order in
CI, the update bot, and no blanket or unexplained lint/security suppression anywhere in the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$")
JUSTIFIED_NOQA = re.compile(r"^:\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*\s*(-|—|#)\s*\S.{4,}")
NOSEC = re.compile(r"#\s*nosec\b(?P<rest>.*)$")
CODES_ONLY = re.compile(r"^:?\s+B[0-9]{3}(\s*,\s*B[0-9]{3})*\s*$")
JUSTIFIED_NOSEC = re.compile(r"^:?\s+B[0-9]{3}(\s*,\s*B[0-9]{3})*\s*#\s*\S.{4,}")
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[a-z-]+(,\s*[a-z-]+)*\])?")


def python_files() -> list[Path]:
    return sorted(p for folder in ("src", "tests", "bench") for p in (ROOT / folder).rglob("*.py"))


def test_every_lint_or_security_suppression_names_its_rule_and_says_why() -> None:
    unjustified = []
    for path in python_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            noqa = NOQA.search(line)
            if noqa and not JUSTIFIED_NOQA.match(noqa.group("rest")):
                unjustified.append(f"{where}: {line.strip()}")
            nosec = NOSEC.search(line)
            # bandit reads words after "nosec" as test ids, so the reason follows a second "#"
            # or is the comment line just above
            reason_above = number > 1 and lines[number - 2].lstrip().startswith("#")
            if nosec and not (
                JUSTIFIED_NOSEC.match(nosec.group("rest")) or (reason_above and CODES_ONLY.match(nosec.group("rest")))
            ):
                unjustified.append(f"{where}: {line.strip()}")
            ignore = TYPE_IGNORE.search(line)
            if ignore and not ignore.group("codes"):
                unjustified.append(f"{where}: bare type: ignore")
    assert not unjustified, (
        "name the rule and the reason (noqa: CODE - reason; nosec B123, then a second hash and the reason):\n"
        + "\n".join(unjustified)
    )


def test_the_linters_keep_the_security_rules_with_narrow_ignores() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]
    assert not any(code.startswith(("S", "B")) for code in lint.get("ignore", [])), "no global security ignores"
    for pattern, codes in lint.get("per-file-ignores", {}).items():
        assert pattern.startswith(("tests/", "bench/", "src/torrent_streamer/migrations/")), pattern
        assert "S608" not in codes, "string-built SQL is never waved through for a whole folder"
    bandit = config["tool"]["bandit"]
    assert "skips" not in bandit
    assert not any(folder.startswith("src") for folder in bandit.get("exclude_dirs", []))


def test_ci_installs_from_the_lockfile_and_runs_every_gate_in_order() -> None:
    lines = (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
    ci = "\n".join(line for line in lines if not line.lstrip().startswith(("#", "echo")))
    steps = ["uv sync --frozen", "scripts/lint.sh", "scripts/secret-scan.sh", "scripts/audit.sh", "make test"]
    positions = [ci.find(step) for step in steps]
    assert all(position >= 0 for position in positions), dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions)
    assert "UV_FROZEN=1" in ci
    assert "set -euo pipefail" in ci
    for script in ("lint.sh", "test.sh", "audit.sh"):
        text = (ROOT / "scripts" / script).read_text(encoding="utf-8")
        assert "uv run --frozen" in text or "uv export --frozen" in text, script
        assert not re.search(r"\bpip install\b", text), script
    lint = (ROOT / "scripts/lint.sh").read_text(encoding="utf-8")
    assert "ruff check" in lint
    assert "bandit" in lint


def test_the_update_bot_watches_python_images_and_actions() -> None:
    config = yaml.safe_load((ROOT / ".github/dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {entry["package-ecosystem"] for entry in config["updates"]}
    assert {"uv", "docker", "github-actions"} <= ecosystems


def test_ci_and_deployment_files_hold_no_literal_secret() -> None:
    files = [ROOT / ".ci/run", ROOT / "compose.yaml", ROOT / "Dockerfile", ROOT / ".github/dependabot.yml"]
    pattern = re.compile(r"(password|secret|token|api_key)\s*[:=]\s*['\"]?[A-Za-z0-9+/_-]{8,}", re.IGNORECASE)
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = pattern.search(line)
            assert not match or "_FILE" in line or "/run/secrets/" in line, f"{path.name}: {line.strip()}"
