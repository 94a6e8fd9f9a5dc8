# local/python:3.11-slim: a stand-in for the official python:3.11-slim on machines that reach no
# container registry. Built by deploy/offline-images.sh on top of local/debian:bookworm.
# Debian bookworm's python3 is 3.11; a venv at /opt/venv puts `python` and `pip` first on PATH,
# as /usr/local/bin does in the official image, so our Dockerfiles run unchanged on either.
ARG BASE_IMAGE=local/debian:bookworm
FROM ${BASE_IMAGE}

ENV LANG=C.UTF-8

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/python -m pip --version

# pip settings of the build host (index URLs, certificate path), written by offline-images.sh;
# an empty file when the host has none. Nothing host-specific is committed.
COPY pip.conf /etc/pip.conf

# The CA bundle includes the build host's extra CAs (added when the rootfs was made), so tools
# that take their roots from the environment (uv, requests, httpx) trust what pip trusts.
ENV PATH=/opt/venv/bin:$PATH \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

CMD ["python3"]
