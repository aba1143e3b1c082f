#!/bin/sh
# Makes `docker info` answer, for `make sam-local-invoke`:
#   1. installs Debian's docker.io and debootstrap (build-image.sh) with apt when they are missing;
#   2. starts dockerd when no daemon answers, and records that it did (build/samlocal/dockerd.pid),
#      so that samlocal/docker-down.sh stops only a daemon this script started.
# Needs root for both. A daemon that already runs (systemd, Docker Desktop, ...) is used as it is.
#
# dockerd runs with its defaults (overlay2, the docker0 bridge, iptables NAT): in the Firecracker VM
# this was written on (Debian bookworm, kernel 6.18, cgroup v1) those work. The functions reach the
# moto endpoint on the host through docker0's gateway address, so the bridge network is required;
# `--bridge=none` would leave the containers without a route to it.
set -eu

STATE_DIR=${SAMLOCAL_DIR:-build/samlocal}
mkdir -p "$STATE_DIR"

as_root() {
    [ "$(id -u)" = 0 ] || { echo "error: $1 needs root (run make as root, or install/start docker yourself)" >&2; exit 1; }
}

missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
if [ -n "$missing" ]; then
    as_root "apt-get install$missing"
    echo "apt-get install$missing"
    # Another apt may be running on a shared machine: wait for its lock rather than fail.
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086  # $missing is a list of package names
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing \
        || { apt-get -o DPkg::Lock::Timeout=600 update -q \
             && apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing; }
fi

if docker info >/dev/null 2>&1; then
    exit 0
fi

as_root "starting dockerd"
log="$STATE_DIR/dockerd.log"
echo "starting dockerd (log: $log)"
# setsid: the daemon outlives this make run (warm runs reuse it) and a Ctrl-C in make does not reach it.
setsid dockerd >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$STATE_DIR/dockerd.pid"
i=0
until docker info >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$STATE_DIR/dockerd.pid"
        echo "error: dockerd exited; the end of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    i=$((i + 1))
    [ "$i" -le 60 ] || { echo "error: dockerd (pid $pid) did not answer within 30 s; see $log" >&2; exit 1; }
    sleep 0.5
done
echo "dockerd $(docker version --format '{{.Server.Version}}') running (pid $pid)"
