#!/usr/bin/env bash
# Secret scan (SR-4.3, SR-9.1): detect-secrets over every tracked file against the audited,
# committed .secrets.baseline. A finding not in the baseline fails. Line-number drift of a
# known (audited) finding does not; the committed baseline is never rewritten here.
#   add an audited false positive:  uv run detect-secrets scan --baseline .secrets.baseline \
#                                     --exclude-files '(uv\.lock|\.venv/.*)' && uv run detect-secrets audit .secrets.baseline
set -uo pipefail
cd "$(dirname "$0")/.."
baseline=$(mktemp)
trap 'rm -f "$baseline"' EXIT
cp .secrets.baseline "$baseline"
mapfile -t files < <(git ls-files | grep -Ev '^(uv\.lock|\.secrets\.baseline)$')
uv run --frozen detect-secrets-hook --baseline "$baseline" "${files[@]}"
code=$?
case "$code" in
  0|3) echo "secret scan: ${#files[@]} tracked files, no secret outside the audited baseline"; exit 0 ;;
  1) echo "secret scan: FAILED - new potential secret(s) above; remove them, or audit a false positive into .secrets.baseline" >&2; exit 1 ;;
  *) echo "secret scan: FAILED - detect-secrets exited $code" >&2; exit "$code" ;;
esac
