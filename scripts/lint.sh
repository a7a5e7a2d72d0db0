#!/usr/bin/env bash
# Static gates: ruff (incl. the S security rules), bandit, mypy --strict, import contracts.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { echo "== $*"; uv run --frozen "$@"; }
run ruff check src tests bench
run ruff format --check src tests bench
run bandit -q -c pyproject.toml -r src
run mypy
run lint-imports
