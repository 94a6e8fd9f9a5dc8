# local/redis:7: a stand-in for the official redis:7 on machines that reach no container
# registry, made from Debian bookworm's redis-server (7.0). Built by deploy/offline-images.sh.
# Like the official image: runs as user redis (uid 999) in /data, `docker run IMAGE --port 1234`
# and `docker run IMAGE redis-server ARGS` both work, and protected mode is off (the container's
# network is the boundary; publish the port on 127.0.0.1 only).
ARG BASE_IMAGE=local/debian:bookworm
FROM ${BASE_IMAGE}

RUN groupadd --system --gid 999 redis \
    && useradd --system --uid 999 --gid redis --home-dir /var/lib/redis --shell /usr/sbin/nologin redis \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data \
    && chown redis:redis /data

COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["redis-server"]
