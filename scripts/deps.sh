#!/bin/sh
# deps.sh -- install the Debian packages Stratus needs to build and test,
# when they are missing. Safe to run repeatedly; does nothing when all are
# present. Set STRATUS_DEPS_EXTRA to add packages (e.g. for benchmarks).
# cmake is for the tests: it builds the native part of the Lambda runtime
# client that scripts/lambda-ric.sh installs; prometheus is for the tests
# too: tests/e2e/test_metrics.py has a real Prometheus server scrape /metrics.
set -e

PACKAGES="build-essential pkg-config libuv1-dev libhttp-parser-dev libjansson-dev \
libsqlite3-dev libssl-dev libjsmn-dev python3 python3-pytest cmake nodejs prometheus ${STRATUS_DEPS_EXTRA:-}"

# Headless Chromium drives the dashboard test (tests/e2e/test_dashboard.py).
PACKAGES="$PACKAGES chromium"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "deps: installing missing packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: not root and no sudo; install these as root:" >&2
    echo "  apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
