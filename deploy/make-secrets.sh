#!/usr/bin/env bash
# Generate every secret compose.yaml reads (files, mode 0600, in deploy/secrets/; never committed).
# Existing files are kept, so re-running never rotates anything by accident (see docs/deployment.md).
set -euo pipefail
umask 077
dir="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$dir"
token() { python3 -c 'import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])))' "$1"; }
put() { [ -e "$dir/$1" ] || printf '%s\n' "$2" > "$dir/$1"; }
value() { head -n1 "$dir/$1"; }

put pg_superuser_password "$(token 32)"
put ts_owner_password "$(token 32)"
put ts_app_password "$(token 32)"
put redis_password "$(token 32)"
put secret_key "$(token 48)"
put metrics_token "$(token 32)"
put encryption_keys "$(python3 -c 'import base64, secrets; print(secrets.token_hex(4) + ":" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')"

put db_admin_url "postgresql://postgres:$(value pg_superuser_password)@postgres:5432/postgres"
put owner_database_url "postgresql+asyncpg://ts_owner:$(value ts_owner_password)@postgres:5432/torrent_streamer"
put app_database_url "postgresql+asyncpg://ts_app:$(value ts_app_password)@postgres:5432/torrent_streamer"
put redis_url "redis://:$(value redis_password)@redis:6379/0"
put redis.conf "$(printf 'requirepass %s\nprotected-mode yes\nsave ""\nappendonly no\nrename-command FLUSHALL ""\nrename-command CONFIG ""\nrename-command DEBUG ""\n' "$(value redis_password)")"
chmod 0600 "$dir"/*
# Compose bind-mounts secret files with their host owner and mode: each must be readable by the
# container user that reads it (service uid 10001, redis uid 999; postgres and the one-shots
# read theirs as root or as the service uid).
if [ "$(id -u)" -eq 0 ]; then
  chown 10001:10001 "$dir"/{app_database_url,owner_database_url,db_admin_url,ts_owner_password,ts_app_password,redis_url,secret_key,encryption_keys,metrics_token}
  chown 999:999 "$dir"/redis.conf
else
  echo "not root: run 'sudo $0' (or chown the files: 10001 for the service's, 999 for redis.conf)" >&2
fi
echo "secrets in $dir (0600). Keep a copy in your secret manager; losing encryption_keys loses TOTP secrets."
