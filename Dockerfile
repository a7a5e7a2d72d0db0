# torrent-streamer service image (SR-7.1): multi-stage, installed only from uv.lock, runs as a
# numeric non-root user on a read-only root filesystem; /data is the one writable volume.
# Build: docker build -t torrent-streamer:0.1.0 .     Scan: see docs/deployment.md (Trivy).

# ---- build: resolve nothing, install exactly what uv.lock pins ---------------------------
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv
FROM python:3.11-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first (cached layer), then the project itself, both from the lockfile only.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

# ---- runtime: no build tools, no uv, no source tree --------------------------------------
FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 torrent \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin torrent \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data
# The virtualenv is owned by root: the service cannot modify its own code.
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TS_ENV=production \
    TS_DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM
# Host "localhost" must be in TS_TRUSTED_HOSTS; /healthz is exempt from the HTTPS redirect.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import http.client,sys; c=http.client.HTTPConnection('127.0.0.1',8000,timeout=3); c.request('GET','/healthz',headers={'Host':'localhost'}); sys.exit(c.getresponse().status!=200)"]
CMD ["torrent-streamer", "serve", "--host", "0.0.0.0", "--port", "8000"]
