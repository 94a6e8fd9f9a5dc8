#!/usr/bin/env bash
# Build the base images for a machine that reaches no container registry (run as root):
#   local/debian:bookworm     debootstrap minbase + ca-certificates + this host's extra CAs
#   local/python:3.11-slim    stands in for python:3.11-slim  (deploy/offline/python.Dockerfile)
#   local/redis:7             stands in for redis:7           (deploy/offline/redis.Dockerfile)
# Each image is built only when missing, or when the host's extra CAs changed since it was built
# (label agent-streams.host-ca; one of them is regenerated at boot, and a stale one breaks
# TLS in later builds); FORCE=1 rebuilds all. The debootstrapped rootfs is cached as a tarball
# in $CACHE_DIR without the host's CAs: they are copied in at every import, never committed.
# The Debian mirror is the one this host's apt already uses (override: MIRROR=, SECURITY_MIRROR=).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=bookworm
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
CACHE_DIR=${CACHE_DIR:-/var/cache/agent-streams}
FORCE=${FORCE:-0}
DEBIAN_IMAGE=local/debian:${SUITE}
PYTHON_IMAGE=local/python:3.11-slim
REDIS_IMAGE=local/redis:7
EXTRA_CA_DIR=/usr/local/share/ca-certificates
TARBALL=$CACHE_DIR/debian-${SUITE}-${ARCH}-minbase.tar
export DOCKER_BUILDKIT=0  # the classic builder: no BuildKit on these machines

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

say() { printf '[offline-images] %s\n' "$*"; }

# timed LABEL CMD...: run CMD and print how long it took.
timed() {
    local label=$1 start=$EPOCHREALTIME
    shift
    "$@"
    say "$(awk -v l="$label" -v a="$start" -v b="$EPOCHREALTIME" \
        'BEGIN { printf "%-28s %6.1fs", l, b - a }')"
}

# logged LOG CMD...: run CMD with its output in LOG; show the end of LOG if it fails.
logged() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        say "error: failed, full log in $log" >&2
        return 1
    fi
}

# Fingerprint of the host's extra CAs, stamped on every image built here.
HOST_CA=$(find "$EXTRA_CA_DIR" -type f -name '*.crt' -print0 2>/dev/null | sort -z \
    | xargs -0 -r cat | sha256sum | cut -c1-16)
CA_LABEL=agent-streams.host-ca

# have_image IMAGE: present, and built with the host's current CAs.
have_image() {
    [ "$FORCE" != 1 ] || return 1
    local stamp
    stamp=$(docker image inspect -f "{{ index .Config.Labels \"$CA_LABEL\" }}" "$1" 2>/dev/null) \
        || return 1
    if [ "$stamp" != "$HOST_CA" ]; then
        say "$1: built with other host CAs ($stamp), rebuilding"
        return 1
    fi
}

# apt_uri SUITE: the first URI this host's apt sources use for SUITE (deb822 files first).
apt_uri() {
    local suite=$1 f
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""; types = ""; enabled = 1
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^#/) continue
                    if (match(line, /^URIs:[ \t]*/)) uris = substr(line, RLENGTH + 1)
                    else if (match(line, /^Suites:[ \t]*/)) suites = substr(line, RLENGTH + 1)
                    else if (match(line, /^Types:[ \t]*/)) types = substr(line, RLENGTH + 1)
                    else if (line ~ /^Enabled:[ \t]*no/) enabled = 0
                }
                if (!enabled || types !~ /(^|[ \t])deb([ \t]|$)/) next
                n = split(suites, s, /[ \t]+/)
                for (j = 1; j <= n; j++) if (s[j] == suite) { split(uris, u, /[ \t]+/); print u[1]; exit }
            }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk -v suite="$suite" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) print $i
            }'
}

# ensure_rootfs_tarball: debootstrap into $TARBALL unless it is cached.
ensure_rootfs_tarball() {
    if [ -s "$TARBALL" ] && [ "$FORCE" != 1 ]; then
        say "rootfs: cached $TARBALL"
        return
    fi
    local mirror=${MIRROR:-$(apt_uri "$SUITE" | head -n 1)}
    local security=${SECURITY_MIRROR:-$(apt_uri "$SUITE-security" | head -n 1)}
    if [ -z "$mirror" ]; then
        say "error: no Debian mirror for '$SUITE' in this host's apt sources; set MIRROR=" >&2
        exit 1
    fi
    command -v debootstrap >/dev/null || { say "error: debootstrap missing (make engine)" >&2; exit 1; }
    mkdir -p "$CACHE_DIR"
    local rootfs=$WORK/rootfs-bootstrap
    say "rootfs: debootstrap $SUITE minbase from the host's apt mirror"
    timed "debootstrap" logged "$CACHE_DIR/debootstrap.log" \
        debootstrap --variant=minbase --include=ca-certificates --arch="$ARCH" \
        "$SUITE" "$rootfs" "$mirror"
    tune_rootfs "$rootfs" "$mirror" "$security"
    tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$rootfs"
    say "rootfs: cached as $TARBALL ($(du -h "$TARBALL" | cut -f1))"
}

# tune_rootfs ROOTFS MIRROR SECURITY: container conventions of the official Debian images.
tune_rootfs() {
    local rootfs=$1 mirror=$2 security=$3
    {
        echo "deb $mirror $SUITE main"
        echo "deb $mirror $SUITE-updates main"
        if [ -n "$security" ]; then echo "deb $security $SUITE-security main"; fi
    } >"$rootfs/etc/apt/sources.list"
    # Services must not start inside a build.
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 755 "$rootfs/usr/sbin/policy-rc.d"
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    # Slim: no docs, man pages or translations from later installs (copyright files stay).
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
    # Docker mounts its own resolv.conf and hostname; keep the host's out of the image.
    : >"$rootfs/etc/resolv.conf"
    : >"$rootfs/etc/hostname"
}

build_debian() {
    if have_image "$DEBIAN_IMAGE"; then
        say "$DEBIAN_IMAGE: present"
        return
    fi
    local rootfs=$WORK/rootfs
    ensure_rootfs_tarball
    mkdir -p "$rootfs"
    tar --numeric-owner -C "$rootfs" -xpf "$TARBALL"
    # The host's extra CAs (e.g. a TLS-inspecting proxy's) so apt/pip inside builds work here.
    local n=0
    if [ -d "$EXTRA_CA_DIR" ]; then
        cp -a "$EXTRA_CA_DIR"/. "$rootfs/usr/local/share/ca-certificates/"
        n=$(find "$rootfs/usr/local/share/ca-certificates" -name '*.crt' | wc -l)
    fi
    logged "$CACHE_DIR/update-ca-certificates.log" chroot "$rootfs" update-ca-certificates
    tar --numeric-owner -C "$rootfs" -c . \
        | docker import --change 'CMD ["bash"]' --change "LABEL $CA_LABEL=$HOST_CA" \
            --message "debootstrap $SUITE minbase" \
            - "$DEBIAN_IMAGE" >/dev/null
    rm -rf "$rootfs"
    say "$DEBIAN_IMAGE: imported (+$n host CA certificates)"
}

# host_pip_conf FILE: the build host's pip index settings as a pip.conf for the image. Only
# settings that mean the same inside a container are kept (http(s) indexes, timeout); local
# paths (find-links, file:// indexes, constraints) are dropped, and the certificate path is the
# image's system bundle, which already holds the host's extra CAs.
host_pip_conf() {
    python3 - "$1" <<'EOF'
import ast, subprocess, sys

keep = {"index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout"}
found: dict[str, str] = {}
out = subprocess.run(
    [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
).stdout
for line in out.splitlines():
    name, _, raw = line.partition("=")
    key = name.split(".", 1)[-1]
    if key not in keep or not raw:
        continue
    value = ast.literal_eval(raw)
    if key.endswith("index-url"):
        value = " ".join(u for u in value.split() if u.startswith(("http://", "https://")))
    if value:
        found["timeout" if key == "default-timeout" else key] = value
lines = ["[global]", "cert = /etc/ssl/certs/ca-certificates.crt"]
lines += [f"{k} = {v}" for k, v in sorted(found.items())]
with open(sys.argv[1], "w") as f:
    f.write("\n".join(lines) + "\n")
EOF
}

# build_from_dockerfile IMAGE DOCKERFILE [FILE...]: classic build in a small scratch context.
build_from_dockerfile() {
    local image=$1 dockerfile=$2 ctx
    shift 2
    if have_image "$image"; then
        say "$image: present"
        return
    fi
    ctx=$(mktemp -d "$WORK/ctx.XXXX")
    cp "$HERE/offline/$dockerfile" "$ctx/Dockerfile"
    if [ "$#" -gt 0 ]; then cp -p "$@" "$ctx/"; fi
    logged "$CACHE_DIR/build-${dockerfile%.Dockerfile}.log" \
        docker build --build-arg BASE_IMAGE="$DEBIAN_IMAGE" --label "$CA_LABEL=$HOST_CA" \
        -t "$image" "$ctx"
    say "$image: built"
}

build_python() {
    host_pip_conf "$WORK/pip.conf"
    build_from_dockerfile "$PYTHON_IMAGE" python.Dockerfile "$WORK/pip.conf"
}

build_redis() {
    build_from_dockerfile "$REDIS_IMAGE" redis.Dockerfile "$HERE/offline/redis-entrypoint.sh"
}

if [ "$(id -u)" -ne 0 ]; then
    say "error: debootstrap and chroot need root" >&2
    exit 1
fi
docker info >/dev/null 2>&1 || { say "error: no Docker engine answers (make engine)" >&2; exit 1; }
mkdir -p "$CACHE_DIR"

timed "$DEBIAN_IMAGE" build_debian
timed "$PYTHON_IMAGE" build_python
timed "$REDIS_IMAGE" build_redis
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^local/' | sed 's/^/[offline-images]   /'
