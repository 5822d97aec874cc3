# leadbridge: one long-running `leadbridge run` per board.
#   docker build -t leadbridge .
#   docker run -v ./config:/config:ro -v leadbridge-data:/data -p 8080:8080 \
#     --stop-timeout 30 leadbridge
# Secrets come from LEADBRIDGE_* variables or files in /run/secrets (see config/).
# Where PyPI is reached through a mirror:
#   docker build --build-arg PIP_INDEX_URL=https://pypi.mirror.example/simple -t leadbridge .
# The base image is pinned to a release; pin its digest too for builds that must not move:
# docker buildx imagetools inspect python:3.11.14-slim-bookworm prints it.
FROM python:3.11.14-slim-bookworm

# The package index pip installs from (a build argument: not kept in the image).
ARG PIP_INDEX_URL=https://pypi.org/simple

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/leadbridge

RUN groupadd --system --gid 10001 leadbridge \
 && useradd --system --uid 10001 --gid leadbridge --no-create-home --home-dir /data leadbridge \
 && mkdir -p /config /data \
 && chown leadbridge:leadbridge /data

WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY src/ src/
# constraints.txt: the versions the tests passed with (CI installs the same).
# install: the same steps run in a fresh venv by tests/service_runtime/test_dockerfile.py
RUN python -m venv "$VIRTUAL_ENV"
RUN "$VIRTUAL_ENV/bin/pip" install -c constraints.txt .
# PYTHONDONTWRITEBYTECODE keeps pip from byte-compiling and Python from caching, so without
# this every leadbridge command in the container would compile its ~860 modules first
# (a quiet `sync --once`: 2.7 s of CPU instead of 1.1 s on a 2-core machine).
RUN "$VIRTUAL_ENV/bin/python" -m compileall -q -j 0 "$VIRTUAL_ENV/lib"

ENV PATH="/opt/leadbridge/bin:$PATH" \
    LEADBRIDGE_CONFIG=/config/leadbridge.yaml \
    LEADBRIDGE_SERVICE__HTTP_PORT=8080

USER leadbridge
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# No curl in the slim image; a 503 raises HTTPError, so any unhealthy answer exits non-zero.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LEADBRIDGE_SERVICE__HTTP_PORT', '8080') + '/healthz', timeout=5)"]

# Exec form: leadbridge is PID 1 and receives SIGTERM itself, then finishes the effect in flight.
ENTRYPOINT ["leadbridge"]
CMD ["run"]
