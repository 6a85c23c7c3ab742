# syntax=docker/dockerfile:1
# canary-monitor: multi-stage build; the runtime stage copies only the virtualenv and configs.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/canary
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN /opt/canary/bin/pip install .

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="canary-monitor" \
      org.opencontainers.image.description="Output-quality canary for LLM serving fleets" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/canary /opt/canary
# The example configs and probe suites; `docker run IMAGE` runs the demo against the built-in
# simulated fleet; mount your own config at /etc/canary/config.yaml and run `run`.
COPY config /etc/canary/config
COPY probes /etc/canary/probes
RUN useradd --system --uid 10001 --home-dir /var/lib/canary --create-home canary
ENV PATH=/opt/canary/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /etc/canary
USER 10001
EXPOSE 9471
VOLUME ["/var/lib/canary"]
ENTRYPOINT ["canary"]
CMD ["demo", "--config", "/etc/canary/config/demo.yaml"]
