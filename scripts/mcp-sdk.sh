#!/bin/sh
# mcp-sdk.sh -- install the official MCP TypeScript SDK (npm
# @modelcontextprotocol/sdk 1.x, with the zod it declares its tools with)
# into a cache folder, for the MCP end-to-end tests (tests/e2e/test_mcp.py).
#
#   sh scripts/mcp-sdk.sh [DIR]     (default build/mcp-sdk)
#
# Idempotent: when DIR already holds a working install of the same versions
# it returns at once. The SDK is plain JavaScript: it runs on the Node.js of
# the system (18 or later), and npm installs it without building anything.
# npm comes from the Debian package when it is missing and we are root.
# Prints the SDK's folder and its version when done.
set -e

DIR=${1:-${MCP_SDK_DIR:-build/mcp-sdk}}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
SDK="$DIR/node_modules/@modelcontextprotocol/sdk"
# What package.json asks for; a change here reinstalls.
DEPS='"@modelcontextprotocol/sdk": "^1.0.0", "zod": "^3.25.0"'

# The server and client modules the tests use must import.
loads() {
    (cd "$DIR" && node --input-type=module -e '
        await import("@modelcontextprotocol/sdk/server/mcp.js");
        await import("@modelcontextprotocol/sdk/server/streamableHttp.js");
        await import("@modelcontextprotocol/sdk/client/index.js");
        await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
        await import("zod");' 2>&1)
}

version() {
    node -p 'require(process.argv[1]).version' "$SDK/package.json" 2>/dev/null
}

installed() {
    [ -f "$DIR/.installed" ] && [ "$(cat "$DIR/.installed")" = "$DEPS" ] &&
        [ -f "$SDK/package.json" ] && command -v node >/dev/null 2>&1 && loads >/dev/null
}

if installed; then
    echo "mcp-sdk: $SDK ($(version))"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "mcp-sdk: installing npm (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends npm; }
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "mcp-sdk: node and npm are needed (apt-get install npm)" >&2
    exit 1
fi

start=$(date +%s)
rm -f "$DIR/.installed"
cat > "$DIR/package.json" <<JSON
{
  "name": "stratus-mcp-sdk",
  "private": true,
  "description": "The MCP TypeScript SDK, for Stratus's MCP custom handler tests",
  "dependencies": {$DEPS}
}
JSON
cd "$DIR"
echo "mcp-sdk: installing @modelcontextprotocol/sdk 1.x into $DIR"
npm install --no-audit --no-fund --loglevel=error --ignore-scripts
if ! out=$(loads); then
    echo "mcp-sdk: the SDK does not load after install (node $(node --version)):" >&2
    echo "$out" >&2
    exit 1
fi
printf '%s' "$DEPS" > "$DIR/.installed"
echo "mcp-sdk: installed in $(( $(date +%s) - start )) s: $SDK ($(version))"
