#!/bin/sh
# Stops the dockerd that samlocal/docker-up.sh started (its pid is in build/samlocal/dockerd.pid),
# and nothing else: a daemon started some other way is left alone. Images stay in /var/lib/docker.
set -eu

pidfile="${SAMLOCAL_DIR:-build/samlocal}/dockerd.pid"
[ -f "$pidfile" ] || { echo "no dockerd started by samlocal/docker-up.sh"; exit 0; }
pid=$(cat "$pidfile")
# Only if that pid still is a dockerd: the pid may have been reused after a reboot.
if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    kill -TERM "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
    echo "dockerd (pid $pid) stopped"
fi
rm -f "$pidfile"
