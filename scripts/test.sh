#!/usr/bin/env bash
# The whole test suite, twice: on PostgreSQL + Redis (the production shape), then on the
# embedded SQLite default with in-process rate limits. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/services.sh

mkdir -p test-artifacts
status=0
echo "== pytest: PostgreSQL + Redis"
TS_TEST_DB=postgres TS_TEST_REDIS=1 uv run --frozen pytest -p no:cacheprovider "$@" || status=$?
if [ "$status" -eq 0 ]; then
  echo "== pytest: SQLite (embedded default), in-process rate limits"
  TS_TEST_DB=sqlite TS_TEST_REDIS=0 uv run --frozen pytest -p no:cacheprovider -m "not engine and not browser" "$@" || status=$?
fi
exit "$status"
