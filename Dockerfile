# syntax=docker/dockerfile:1
# canary-monitor: a multi-stage build. The build stage installs the package into a virtualenv;
# the runtime stage copies only that virtualenv, the example configs and the probe suites.
#
#   docker build --build-arg REVISION=$(git rev-parse HEAD) -t canary-monitor .
#   docker run --rm -it canary-monitor                     # the demo: simulated fleet + daemon
#   docker run -v $PWD/canary.yaml:/etc/canary/config.yaml -p 9471:9471 \
#       canary-monitor run --config /etc/canary/config.yaml
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/canary
COPY pyproject.toml README.md ./
COPY monitor ./monitor
# The simulated fleet, a sibling package: `canary demo` (the default CMD) starts it.
COPY canary_sim ./canary_sim
RUN /opt/canary/bin/pip install --no-cache-dir .

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/canary-monitor/canary-monitor
LABEL org.opencontainers.image.title="canary-monitor" \
      org.opencontainers.image.description="Output-quality canary for LLM serving fleets" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.documentation="${SOURCE}/blob/main/README.md" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed non-root uid/gid (the Helm chart's runAsUser/fsGroup) owning only the store directory.
RUN groupadd --system --gid 10001 canary \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
       --home-dir /var/lib/canary --no-create-home --shell /usr/sbin/nologin canary \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/canary
COPY --from=build /opt/canary /opt/canary
# The example configs and probe suites: config/*.yaml name ../probes/core.yaml, so the layout
# is kept. `docker run IMAGE` runs the demo against the built-in simulated fleet; mount your
# own config at /etc/canary/config.yaml (probe files next to it) and run `run`.
COPY config /etc/canary/config
COPY probes /etc/canary/probes
# Bytecode was compiled at install time; never write .pyc at run time (read-only root fs).
ENV PATH=/opt/canary/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CANARY_DEMO_LISTEN=0.0.0.0 \
    MALLOC_ARENA_MAX=2
WORKDIR /etc/canary
USER 10001:10001
EXPOSE 9471
VOLUME ["/var/lib/canary"]
ENTRYPOINT ["canary"]
CMD ["demo", "--config", "/etc/canary/config/demo.yaml", "--port", "9471"]
