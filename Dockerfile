# syntax=docker/dockerfile:1.7
#
# One image for every process: `standings intake|projector|indexer|api|migrate|topics|audit|...`.
#
# The base image is pinned by version AND digest. The digest below is the one published for
# python:3.11.14-slim-bookworm (taken from public references, not pulled on this machine): the
# release pipeline verifies/refreshes it with
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm --format '{{json .Manifest.Digest}}'
# and a mismatch fails the build rather than silently pulling something else.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# --- build: a virtualenv with the dependencies and the package ---------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies first (their own layer, rebuilt only when the lock changes): exactly the versions
# of locks/runtime.txt, every file checked against its hash. Every runtime dependency ships
# manylinux wheels, so no compiler is needed.
COPY locks/runtime.txt ./locks/runtime.txt
RUN pip install --upgrade pip setuptools wheel \
    && pip install --require-hashes --only-binary=:all: -r locks/runtime.txt

# Then the code. The package is installed in place (editable) at /app: the migrations directory
# and alembic.ini are resolved relative to the source tree (services/core/db/migrate.py), so the
# tree keeps its shape in the image. Runtime has the same /app path.
COPY pyproject.toml README.md* LICENSE alembic.ini ./
COPY migrations ./migrations
COPY services ./services
RUN pip install --no-deps --no-build-isolation -e . \
    && python -m compileall -q /app/services /app/migrations \
    && standings --help > /dev/null

# --- runtime: no build tools, non-root, read-only friendly -------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# tini as PID 1: forwards SIGTERM to the process group so the consumers finish their batch and
# leave the group cleanly instead of being SIGKILLed at the end of the grace period.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 standings \
    && useradd --system --uid 10001 --gid standings --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin standings

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STANDINGS_LOG_JSON=true

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app

# Numeric user so Kubernetes can verify runAsNonRoot without resolving names.
USER 10001:10001

# api, intake, projector metrics/health, indexer metrics/health
EXPOSE 8000 8001 9101 9102

LABEL org.opencontainers.image.title="live-standings" \
      org.opencontainers.image.description="Live tournament standings event pipeline" \
      org.opencontainers.image.licenses="Apache-2.0"

ENTRYPOINT ["/usr/bin/tini", "--", "standings"]
CMD ["--help"]
