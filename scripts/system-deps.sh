#!/usr/bin/env bash
# Install the Debian packages the test suite drives when they are missing (a fresh machine runs
# `make test` and nothing else): PostgreSQL and Redis (the production shape), Chromium (browser
# tests; never a downloaded browser), HAProxy (the cluster test's balancer) and ffmpeg (makes the
# test media; the service itself uses the ffmpeg from its wheel). Fails when one cannot be had.
set -euo pipefail

missing=()
command -v pg_isready >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
[ -x /usr/bin/ffmpeg ] || missing+=(ffmpeg)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "system-deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: need root to install ${missing[*]} (apt-get)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system-deps: postgresql, redis, chromium, haproxy and ffmpeg are present"
