# The stack's `backlog` service: python -m camunda_workers.backlog (the engine's external
# tasks per topic and state, for Prometheus). Built by `workers build` when the stack file
# has the monitoring services; context = the repo root (only wheelhouse/ is used):
#
#   scripts/wheelhouse.sh
#   docker build -f deploy/monitoring/backlog.Dockerfile \
#       [--build-arg BASE_IMAGE=local/python-base:bookworm] -t workers-backlog .
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS venv
RUN python3 -m venv /opt/venv
COPY wheelhouse/ /wheelhouse/
RUN /opt/venv/bin/pip install --no-index --find-links /wheelhouse --no-cache-dir \
        --disable-pip-version-check camunda-workers \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall -q -y --disable-pip-version-check pip setuptools

FROM ${BASE_IMAGE}
ARG UID=10001
RUN groupadd --gid ${UID} exporter \
 && useradd --uid ${UID} --gid exporter --no-create-home --shell /usr/sbin/nologin exporter
COPY --from=venv /opt/venv /opt/venv
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 METRICS_PORT=9180
USER ${UID}:${UID}
EXPOSE 9180
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["python", "-c", "import os,urllib.request as r; r.urlopen('http://127.0.0.1:%s/metrics' % os.environ['METRICS_PORT'], timeout=4)"]
ENTRYPOINT ["python", "-m", "camunda_workers.backlog"]
