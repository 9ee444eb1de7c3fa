# syntax=docker/dockerfile:1
# One image for every hatang process: `hatang api`, `hatang ingest`, `hatang migrate`,
# `hatang simulate ...`, `hatang broker sync`. The chart and compose.yaml pick the subcommand.
# Build: docker build -t hatang:0.1.0 .     (docs/deploy.md)

# Pinned by digest (docs/deploy.md, "Reproducible builds"): python:3.11-slim-bookworm for linux/amd64
# (Python 3.11.16, Debian bookworm of 2026-08-24), as docker-library/repo-info lists it in
# repos/python/remote/3.11-slim-bookworm.md. Refresh the digest deliberately, from that file.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2fc9207f64226cb05ac317cee0bab6fa55a9ea311ce5a086baddd4b4a83c2d3c

# --- build: a virtualenv holding the project and its locked dependencies (wheels only, no compiler) ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/hatang
# Dependencies first, in their own layer, exactly as locked (versions and hashes; `make lock`):
# source edits then rebuild only the last layers.
COPY requirements/runtime.lock requirements/build.lock ./requirements/
RUN /opt/hatang/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: \
        -r requirements/runtime.lock -r requirements/build.lock
COPY pyproject.toml README.md ./
COPY hatang ./hatang
COPY firmware_contracts ./firmware_contracts
COPY registry ./registry
COPY timeseries ./timeseries
COPY ingest ./ingest
COPY alerts ./alerts
COPY api ./api
COPY simulators ./simulators
COPY bench ./bench
# The project itself: no resolver, no download (its build backend is in build.lock, installed above).
RUN /opt/hatang/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
    && /opt/hatang/bin/python -m compileall -q /opt/hatang/lib

# --- runtime: the slim base, the virtualenv, an unprivileged user; nothing else ---
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="hatang" \
      org.opencontainers.image.description="IoT sensor platform for urban infrastructure (Bắc Ninh)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 hatang \
    && useradd --system --uid 10001 --gid hatang --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin hatang
COPY --from=build /opt/hatang /opt/hatang
# A container listens on its own interfaces (the settings default to loopback for a laptop).
ENV PATH=/opt/hatang/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HATANG_API__HOST=0.0.0.0 \
    HATANG_API__PORT=8080 \
    HATANG_INGEST__METRICS_PORT=9108
WORKDIR /tmp
# Numeric uid so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# 8080: the API (HTTP, /metrics included); 9108: ingest's Prometheus metrics.
EXPOSE 8080 9108
ENTRYPOINT ["hatang"]
CMD ["api"]
