# The stack's `socket-proxy` service: socket_proxy.py, the only service with the Docker
# socket; it lets Prometheus' Swarm discovery read tasks, services, nodes and networks and
# refuses everything else. Built by `workers build` when the stack file has the monitoring
# services; context = the repo root (wheelhouse/ for aiohttp, and this folder's script):
#
#   scripts/wheelhouse.sh
#   docker build -f deploy/monitoring/socket-proxy.Dockerfile \
#       [--build-arg BASE_IMAGE=local/python-base:bookworm] -t workers-socket-proxy .
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS venv
RUN python3 -m venv /opt/venv
COPY wheelhouse/ /wheelhouse/
RUN /opt/venv/bin/pip install --no-index --find-links /wheelhouse --no-cache-dir \
        --disable-pip-version-check aiohttp \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall -q -y --disable-pip-version-check pip setuptools

FROM ${BASE_IMAGE}
COPY --from=venv /opt/venv /opt/venv
COPY deploy/monitoring/socket_proxy.py /app/socket_proxy.py
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Root inside the container: the socket is root:docker 0660 on the host, and the docker
# group's id differs from machine to machine. Nothing but Prometheus reaches this service
# (an internal network, no published port), and it only passes the reads listed above.
EXPOSE 2375
ENTRYPOINT ["python", "/app/socket_proxy.py", "--listen", "0.0.0.0:2375"]
