#!/bin/sh
# Builds the Lambda-like image that `sam local invoke` runs the functions in, without pulling
# anything: no registry but PyPI and the Debian mirror is reachable here, so AWS's base image
# (public.ecr.aws/lambda/python:3.13-<arch>) cannot be pulled. Instead:
#
#   debootstrap a minimal Debian trixie (its python3 is 3.13, the template's python3.13 runtime)
#   + awslambdaric and its dependencies from PyPI (samlocal/runtime-requirements.txt, hash-pinned)
#     in /var/runtime, as AWS's base images keep their runtime there
#   + /var/runtime/bootstrap (samlocal/bootstrap), which aws-lambda-rie starts
#   -> `docker import`, tagged with the name SAM CLI builds FROM for a python3.13 ZIP function:
#      public.ecr.aws/lambda/python:3.13-<arch> (samcli/local/docker/lambda_image.py). SAM then adds
#      its own aws-lambda-rie and the layer on top; `--skip-pull-image` keeps it from pulling.
#
# Usage: samlocal/build-image.sh [x86_64|arm64]   (default: the host's; the image runs natively only)
# Env:   PYTHON (a python with pip, default .venv/bin/python), DEBIAN_MIRROR, SAMLOCAL_DIR
# The image carries a label with the hash of its inputs (this script, bootstrap, the requirements);
# when the tagged image already has that label, nothing is rebuilt.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
STATE_DIR=${SAMLOCAL_DIR:-build/samlocal}
PYTHON=${PYTHON:-.venv/bin/python}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

case "${1:-$(uname -m)}" in
    x86_64 | amd64) ARCH=x86_64 DEB_ARCH=amd64 WHEEL_ARCH=x86_64 ;;
    arm64 | aarch64) ARCH=arm64 DEB_ARCH=arm64 WHEEL_ARCH=aarch64 ;;
    *) echo "error: unknown architecture ${1:-$(uname -m)} (x86_64 or arm64)" >&2; exit 2 ;;
esac
if [ "$DEB_ARCH" != "$(dpkg --print-architecture)" ]; then
    echo "error: a $ARCH image on a $(dpkg --print-architecture) host would need qemu-user emulation," \
         "which this script does not set up; build with Architecture=$(uname -m | sed 's/aarch64/arm64/')" >&2
    exit 2
fi

TAG="public.ecr.aws/lambda/python:3.13-$ARCH"
INPUTS=$(cat "$0" "$HERE/bootstrap" "$HERE/runtime-requirements.txt" | sha256sum | cut -c1-16)

if [ "$(docker image inspect --format '{{ index .Config.Labels "samlocal.inputs" }}' "$TAG" 2>/dev/null)" = "$INPUTS" ]; then
    echo "image $TAG is up to date (inputs $INPUTS)"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "error: debootstrap needs root" >&2; exit 1; }
rootfs="$STATE_DIR/rootfs-$ARCH"
rm -rf "$rootfs"
mkdir -p "$STATE_DIR"
trap 'rm -rf "$rootfs"' EXIT

echo "debootstrap $SUITE ($DEB_ARCH, minbase + python3) from $MIRROR (log: $STATE_DIR/debootstrap.log)"
# --keyring: fail unless the Release file is signed by a Debian archive key.
debootstrap --variant=minbase --include=python3 --arch="$DEB_ARCH" --keyring="$KEYRING" \
    "$SUITE" "$rootfs" "$MIRROR" >"$STATE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 20 "$STATE_DIR/debootstrap.log" >&2; exit 1; }

version=$(chroot "$rootfs" /usr/bin/python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
case "$version" in
    3.13.*) ;;
    *) echo "error: $SUITE's python3 is $version, not 3.13 (the template's runtime)" >&2; exit 1 ;;
esac

echo "awslambdaric into /var/runtime (python $version, manylinux $WHEEL_ARCH wheels only)"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input \
    --target "$rootfs/var/runtime" --require-hashes -r "$HERE/runtime-requirements.txt" \
    --only-binary=:all: --platform "manylinux2014_$WHEEL_ARCH" --platform "manylinux_2_28_$WHEEL_ARCH" \
    --python-version 3.13 --implementation cp --abi cp313
install -m 0755 "$HERE/bootstrap" "$rootfs/var/runtime/bootstrap"
mkdir -p "$rootfs/var/task" "$rootfs/opt"

# What a container never needs: apt's package lists and caches, documentation, translations.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*

echo "docker import -> $TAG"
# The environment AWS's python3.13 image declares (LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR, TZ, LANG).
tar -C "$rootfs" --numeric-owner -cf - . | docker import \
    --platform "linux/$DEB_ARCH" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV TZ=:/etc/localtime' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' \
    --change 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
    --change "LABEL samlocal.inputs=$INPUTS samlocal.source=debootstrap-$SUITE+awslambdaric" \
    - "$TAG" >/dev/null

# The runtime client imports with the image's own python, before any function is involved.
docker run --rm --network none --entrypoint /usr/bin/python3 -e PYTHONPATH=/var/runtime "$TAG" \
    -c 'import sys, awslambdaric, simplejson; print("image ok: python", sys.version.split()[0], "awslambdaric", __import__("importlib.metadata").metadata.version("awslambdaric"))'
echo "image $TAG built (inputs $INPUTS, $(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
