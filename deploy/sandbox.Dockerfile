# agent-streams/sandbox: the image the executor runs generated code in.
# The executor adds the lock-down at run time (no network, read-only root, tmpfs /tmp, limits,
# all capabilities dropped, no-new-privileges); this image adds what it can itself: a non-root
# user (uid 10001), no setuid binaries, no compilers or download tools, and a ready matplotlib
# font cache so that the first plot in a container is fast.
# Build from the repository root:
#   docker build -f deploy/sandbox.Dockerfile -t agent-streams/sandbox:latest .
# BASE_IMAGE is the official python:3.11-slim; offline machines pass local/python:3.11-slim.
# Keep the ENTRYPOINT when starting containers (it seeds MPLCONFIGDIR, see the script).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg \
    HOME=/home/sandbox

COPY deploy/sandbox-requirements.txt /tmp/sandbox-requirements.txt
RUN pip install -r /tmp/sandbox-requirements.txt \
    && rm /tmp/sandbox-requirements.txt

# An operator's additions, in a layer of their own so the base set stays cached:
# SANDBOX_EXTRA_PACKAGES is a space-separated list of pip requirement specifiers;
# SANDBOX_EXTRA_REQUIREMENTS a requirements file inside the build context (the default is an
# empty file). What the sandbox has is listed to the model when its code imports a missing module.
ARG SANDBOX_EXTRA_PACKAGES=""
ARG SANDBOX_EXTRA_REQUIREMENTS=deploy/sandbox-requirements.extra.txt
COPY ${SANDBOX_EXTRA_REQUIREMENTS} /tmp/sandbox-requirements.extra.txt
RUN pip install -r /tmp/sandbox-requirements.extra.txt ${SANDBOX_EXTRA_PACKAGES} \
    && rm /tmp/sandbox-requirements.extra.txt

RUN groupadd --gid 10001 sandbox \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/sandbox \
        --shell /bin/bash sandbox \
    && install -d -o sandbox -g sandbox -m 0755 /workspace /opt/matplotlib \
    && find / -xdev -type f -perm /6000 -exec chmod a-s {} +

COPY deploy/sandbox-entrypoint.sh /usr/local/bin/sandbox-entrypoint

USER sandbox
# The font cache, built as the sandbox user into /opt/matplotlib (read-only at run time).
RUN MPLCONFIGDIR=/opt/matplotlib python -c "import matplotlib.pyplot as plt; plt.figure()" \
    && ls /opt/matplotlib/fontlist-*.json

ENV MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /workspace
ENTRYPOINT ["/usr/local/bin/sandbox-entrypoint"]
CMD ["python"]
