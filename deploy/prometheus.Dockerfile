# agent-streams/prometheus: Prometheus from Debian's package, for `docker compose --profile
# observe` (make prometheus-image). Debian-based so that it builds where no container registry is
# reachable (BASE_IMAGE=local/debian:bookworm from deploy/offline-images.sh); where one is, the
# official prom/prometheus image works as well (PROMETHEUS_IMAGE=prom/prometheus, same flags).
# busybox gives the healthcheck its wget (the package ships no HTTP client).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus busybox \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus \
    && chown prometheus:prometheus /prometheus

COPY prometheus.yml /etc/prometheus/prometheus.yml

USER prometheus
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090"]
