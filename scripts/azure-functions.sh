#!/bin/sh
# azure-functions.sh -- install the Azure Functions Node.js programming model
# (npm @azure/functions 4.x, the package v4-model apps depend on) into a
# cache folder, for the v4-model end-to-end tests (tests/e2e/test_node_v4.py).
#
#   sh scripts/azure-functions.sh [DIR]     (default build/azure-functions)
#
# Idempotent: when DIR already holds a working install of the same versions
# it returns at once. The package is plain JavaScript: it runs on the Node.js
# of the system, and npm installs it without building anything. npm comes
# from the Debian package when it is missing and we are root. Prints the
# package's folder and its version when done.
set -e

DIR=${1:-${AZURE_FUNCTIONS_DIR:-build/azure-functions}}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PKG="$DIR/node_modules/@azure/functions"
# What package.json asks for; a change here reinstalls.
DEPS='"@azure/functions": "^4.0.0"'

# The package must load (outside a worker it runs in its test mode).
loads() {
    (cd "$DIR" && node -e 'const f = require("@azure/functions");
        if (typeof f.app.http !== "function") throw new Error("no app.http");' 2>&1)
}

version() {
    node -p 'require(process.argv[1]).version' "$PKG/package.json" 2>/dev/null
}

installed() {
    [ -f "$DIR/.installed" ] && [ "$(cat "$DIR/.installed")" = "$DEPS" ] &&
        [ -f "$PKG/package.json" ] && command -v node >/dev/null 2>&1 && loads >/dev/null
}

if installed; then
    echo "azure-functions: $PKG ($(version))"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "azure-functions: installing npm (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends npm; }
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "azure-functions: node and npm are needed (apt-get install npm)" >&2
    exit 1
fi

start=$(date +%s)
rm -f "$DIR/.installed"
cat > "$DIR/package.json" <<JSON
{
  "name": "stratus-azure-functions",
  "private": true,
  "description": "The Azure Functions Node.js programming model v4, for Stratus's v4-model tests",
  "dependencies": {$DEPS}
}
JSON
cd "$DIR"
echo "azure-functions: installing @azure/functions 4.x into $DIR"
npm install --no-audit --no-fund --loglevel=error --ignore-scripts
if ! out=$(loads); then
    echo "azure-functions: the package does not load after install (node $(node --version)):" >&2
    echo "$out" >&2
    exit 1
fi
printf '%s' "$DEPS" > "$DIR/.installed"
echo "azure-functions: installed in $(( $(date +%s) - start )) s: $PKG ($(version))"
