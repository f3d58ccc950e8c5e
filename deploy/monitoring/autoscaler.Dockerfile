# The stack's `autoscaler` service: python -m workers_tooling.autoscale (issue 22), the
# workers' replicas from their topics' backlog, changed through the stack's socket-proxy.
# Built by `workers build`/`workers deploy` when the stack file has the autoscaler;
# context = the repo root (wheelhouse/ for camunda-workers and httpx, and the tooling's
# sources: the autoscaler imports only its own modules and the worker.json model):
#
#   scripts/wheelhouse.sh
#   docker build -f deploy/monitoring/autoscaler.Dockerfile \
#       [--build-arg BASE_IMAGE=local/python-base:bookworm] -t workers-autoscaler .
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS venv
RUN python3 -m venv /opt/venv
COPY wheelhouse/ /wheelhouse/
COPY deploy/monitoring/autoscaler-requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-index --find-links /wheelhouse --no-cache-dir \
        --disable-pip-version-check camunda-workers -r /tmp/requirements.txt \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall -q -y --disable-pip-version-check pip setuptools

FROM ${BASE_IMAGE}
ARG UID=10001
RUN groupadd --gid ${UID} autoscaler \
 && useradd --uid ${UID} --gid autoscaler --no-create-home --shell /usr/sbin/nologin autoscaler
COPY --from=venv /opt/venv /opt/venv
COPY tooling/src/workers_tooling/ /app/workers_tooling/
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 METRICS_PORT=9181
USER ${UID}:${UID}
EXPOSE 9181
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["python", "-c", "import os,urllib.request as r; r.urlopen('http://127.0.0.1:%s/metrics' % os.environ['METRICS_PORT'], timeout=4)"]
ENTRYPOINT ["python", "-m", "workers_tooling.autoscale"]
