# bench/lib.sh -- shared helpers for the benchmarks in bench/ (POSIX sh).
#
# Source it from a benchmark script:
#
#     BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
#     . "$BENCH_DIR/lib.sh"
#     bench_init                 # cd to the repo root, temp dir, cleanup trap
#
# Conventions (see bench/README.md):
# - a benchmark starts the peer and Stratus itself, on loopback, on free ports;
# - it runs them alternately (peer, Stratus, peer, Stratus, ...);
# - it prints raw figures per round, medians, and ratios with the raw
#   numbers beside them;
# - it exits 0 whatever the figures are (it is a report, not a test) and
#   non-zero only when it could not run.
#
# Every temp file lives under $BENCH_TMP (a mktemp -d directory), removed on
# exit together with every process registered with bench_track.

BENCH_PIDS=""
BENCH_TMP=""
BENCH_PINNED=0          # 1 when taskset pinning is in use
BENCH_SERVER_CPU=1
BENCH_CLIENT_CPU=0
BENCH_CHILDREN_MS=0     # set by bench_children_ms

bench_log() { printf '%s\n' "$*"; }
bench_warn() { printf 'bench: warning: %s\n' "$*" >&2; }
bench_die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }

# --- setup and cleanup -----------------------------------------------------

# bench_init: cd to the repository root, create $BENCH_TMP, install the
# cleanup trap, and decide on CPU pinning.
bench_init() {
    BENCH_ROOT=$(cd "$BENCH_DIR/.." && pwd) || bench_die "cannot find the repository root"
    cd "$BENCH_ROOT" || bench_die "cannot cd to $BENCH_ROOT"
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/stratus-bench.XXXXXX") \
        || bench_die "mktemp -d failed"
    trap 'bench_cleanup' EXIT
    trap 'bench_log ""; bench_log "bench: interrupted"; exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    bench_decide_pinning
}

# bench_track PID: kill PID on exit.
bench_track() { BENCH_PIDS="$BENCH_PIDS $1"; }

# bench_stop PID: SIGTERM, wait up to ~3 s, then SIGKILL.
bench_stop() {
    _p=$1
    kill -0 "$_p" 2>/dev/null || return 0
    kill -TERM "$_p" 2>/dev/null
    _i=0
    while kill -0 "$_p" 2>/dev/null && [ $_i -lt 30 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    if kill -0 "$_p" 2>/dev/null; then
        kill -KILL "$_p" 2>/dev/null
    fi
    wait "$_p" 2>/dev/null
    return 0
}

bench_cleanup() {
    trap - EXIT INT TERM HUP
    # Last started first: clients before the servers they talk to.
    _rev=""
    for _pid in $BENCH_PIDS; do _rev="$_pid $_rev"; done
    for _pid in $_rev; do
        bench_stop "$_pid"
    done
    BENCH_PIDS=""
    if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
        if [ -n "${BENCH_KEEP_TMP:-}" ]; then
            bench_log "bench: temp dir kept: $BENCH_TMP"
        else
            rm -rf "$BENCH_TMP"
        fi
    fi
}

# --- tools -----------------------------------------------------------------

bench_need() {
    for _t in "$@"; do
        command -v "$_t" >/dev/null 2>&1 || bench_die "required tool '$_t' not found"
    done
}

# bench_deps "pkg pkg": install missing Debian packages through the
# project's own script.
bench_deps() {
    STRATUS_DEPS_EXTRA="$1" sh "$BENCH_ROOT/scripts/deps.sh" \
        || bench_die "scripts/deps.sh failed (packages: $1)"
}

# bench_build_stratus: set $STRATUS to the binary, building it with make
# unless STRATUS_BIN points at an existing binary.
bench_build_stratus() {
    if [ -n "${STRATUS_BIN:-}" ]; then
        STRATUS=$STRATUS_BIN
    else
        make -s all >"$BENCH_TMP/make.log" 2>&1 || {
            tail -n 30 "$BENCH_TMP/make.log" >&2
            bench_die "building stratus failed (make)"
        }
        STRATUS=$BENCH_ROOT/stratus
    fi
    [ -x "$STRATUS" ] || bench_die "no stratus binary at $STRATUS"
}

# --- CPU pinning -----------------------------------------------------------

# Server on CPU $BENCH_SERVER_CPU, load generator on CPU $BENCH_CLIENT_CPU,
# when taskset exists and both CPUs are usable. BENCH_NO_PIN=1 disables it.
bench_decide_pinning() {
    BENCH_PINNED=0
    [ -n "${BENCH_NO_PIN:-}" ] && return 0
    command -v taskset >/dev/null 2>&1 || return 0
    taskset -c "$BENCH_SERVER_CPU" true 2>/dev/null || return 0
    taskset -c "$BENCH_CLIENT_CPU" true 2>/dev/null || return 0
    BENCH_PINNED=1
}

bench_pinning_note() {
    if [ "$BENCH_PINNED" = 1 ]; then
        echo "pinned with taskset: servers on CPU $BENCH_SERVER_CPU, wrk on CPU $BENCH_CLIENT_CPU"
    else
        echo "not pinned (taskset unavailable, fewer than 2 usable CPUs, or BENCH_NO_PIN set)"
    fi
}

# bench_server_cmd / bench_client_cmd: print the prefix to put before a
# command (empty when not pinning). taskset execs, so $! stays the server pid.
bench_server_prefix() { [ "$BENCH_PINNED" = 1 ] && echo "taskset -c $BENCH_SERVER_CPU"; }
bench_client_prefix() { [ "$BENCH_PINNED" = 1 ] && echo "taskset -c $BENCH_CLIENT_CPU"; }

# --- ports and readiness ---------------------------------------------------

# bench_free_port: print a TCP port on 127.0.0.1 that was free a moment ago.
bench_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' || bench_die "cannot find a free port (python3)"
}

# bench_nginx SERVER_PREFIX HTTP_EXTRA LOCATION: start nginx under
# SERVER_PREFIX (the pinning of bench_server_prefix), one worker process,
# access log off, every file under $BENCH_TMP, serving `location / {
# LOCATION }` with HTTP_EXTRA (an upstream, say) in its http block; wait
# until it answers "hello\n". Sets NGINX_PID and NGINX_URL.
bench_nginx() {
    _nsrv=$1 _nextra=$2 _nloc=$3
    _nport=$(bench_free_port)
    [ -n "$_nport" ] || bench_die "no free port for nginx"
    mkdir -p "$BENCH_TMP/nginx-tmp"
    cat >"$BENCH_TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $BENCH_TMP/nginx-tmp/body;
    proxy_temp_path $BENCH_TMP/nginx-tmp/proxy;
    $_nextra
    server {
        listen 127.0.0.1:$_nport;
        location / { $_nloc }
    }
}
EOF
    # -e: the error log before the config is read (else /var/log/nginx).
    # shellcheck disable=SC2086,SC2094
    $_nsrv nginx -p "$BENCH_TMP" -e "$BENCH_TMP/nginx-error.log" -c "$BENCH_TMP/nginx.conf" \
        >>"$BENCH_TMP/nginx-error.log" 2>&1 &
    NGINX_PID=$!
    bench_track "$NGINX_PID"
    NGINX_URL=http://127.0.0.1:$_nport/
    bench_wait_http "$NGINX_URL" 'hello\n' "$NGINX_PID" "$BENCH_TMP/nginx-error.log"
}

# bench_wait_http URL EXPECTED_BODY PID LOGFILE [TIMEOUT_S]
# Wait until URL answers 200 with EXPECTED_BODY; fail with a clear message
# (and the tail of LOGFILE) if PID dies or the timeout passes.
bench_wait_http() {
    _url=$1 _body=$2 _pid=$3 _logf=$4 _tmo=${5:-15}
    _deadline=$(( $(date +%s) + _tmo ))
    while :; do
        if ! kill -0 "$_pid" 2>/dev/null; then
            bench_warn "server (pid $_pid) exited before answering $_url; its log:"
            [ -f "$_logf" ] && tail -n 20 "$_logf" >&2
            bench_die "server for $_url did not start"
        fi
        if python3 - "$_url" "$_body" <<'EOF' 2>/dev/null
import sys, urllib.request
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=1)
    sys.exit(0 if r.status == 200 and r.read().decode() == sys.argv[2].encode().decode('unicode_escape') else 1)
except Exception:
    sys.exit(1)
EOF
        then
            return 0
        fi
        if [ "$(date +%s)" -ge "$_deadline" ]; then
            bench_warn "no correct answer from $_url after ${_tmo}s; server log:"
            [ -f "$_logf" ] && tail -n 20 "$_logf" >&2
            bench_die "server for $_url did not start"
        fi
        sleep 0.2
    done
}

# bench_wait_file FILE PID LOGFILE [TIMEOUT_S]: wait for FILE to be non-empty.
bench_wait_file() {
    _f=$1 _pid=$2 _logf=$3 _tmo=${4:-15}
    _deadline=$(( $(date +%s) + _tmo ))
    while [ ! -s "$_f" ]; do
        if ! kill -0 "$_pid" 2>/dev/null; then
            bench_warn "server (pid $_pid) exited during startup; its log:"
            [ -f "$_logf" ] && tail -n 20 "$_logf" >&2
            bench_die "server (pid $_pid) did not start"
        fi
        if [ "$(date +%s)" -ge "$_deadline" ]; then
            [ -f "$_logf" ] && tail -n 20 "$_logf" >&2
            bench_die "server did not write $_f within ${_tmo}s"
        fi
        sleep 0.1
    done
}

# --- process memory --------------------------------------------------------

# bench_status_kb PID FIELD: print FIELD (VmRSS, VmHWM, ...) of PID in kB.
bench_status_kb() {
    awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print "NA" }' \
        "/proc/$1/status" 2>/dev/null || echo NA
}

# bench_private_kb PID: print the private resident memory of PID in kB
# (Private_Clean + Private_Dirty: pages no other process maps, what stopping
# PID would free; NA when unreadable). Unlike VmRSS it leaves out shared
# libraries, so it can be summed over processes.
bench_private_kb() {
    awk '$1 == "Private_Clean:" || $1 == "Private_Dirty:" { t += $2; found = 1 }
        END { if (found) print t; else print "NA" }' \
        "/proc/$1/smaps_rollup" 2>/dev/null || echo NA
}

# bench_sum_kb A B ...: sum of kB figures, NA if any is NA.
bench_sum_kb() {
    _s=0
    for _v in "$@"; do
        case $_v in ''|NA) echo NA; return 0 ;; esac
        _s=$((_s + _v))
    done
    echo "$_s"
}

# bench_children PID: print the pids of PID's direct children, space-separated.
bench_children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }

# bench_cpus_allowed PID: print the CPUs PID may run on (e.g. "1" or "0-1").
bench_cpus_allowed() {
    awk '$1 == "Cpus_allowed_list:" { print $2 }' "/proc/$1/status" 2>/dev/null
}

# bench_kb_to_mb KB: print KB as MB (MiB) with one decimal.
bench_kb_to_mb() {
    case $1 in NA|"") echo NA ;; *) awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' ;; esac
}

# --- wrk -------------------------------------------------------------------

# bench_wrk URL DURATION_S OUTFILE: run wrk -t1 -c50 --latency, pinned.
# wrk runs in the background and the shell waits for it: a shell waiting for
# a foreground child that handles SIGINT itself (wrk does) would not run its
# INT trap, so Ctrl-C would only cut one run short; `wait` is interrupted.
bench_wrk() {
    # shellcheck disable=SC2046
    $(bench_client_prefix) wrk -t"${WRK_THREADS:-1}" -c"${WRK_CONNECTIONS:-50}" \
        -d"$2"s --latency "$1" >"$3" 2>&1 &
    _w=$!
    BENCH_PIDS="$BENCH_PIDS $_w"
    wait "$_w"
    _rc=$?
    BENCH_PIDS=${BENCH_PIDS% "$_w"}
    [ "$_rc" -eq 0 ] || { cat "$3" >&2; bench_die "wrk failed against $1 (exit $_rc)"; }
}

# bench_wrk_parse OUTFILE: print "RPS P50_MS P99_MS REQUESTS ERRORS" where
# ERRORS counts socket errors plus non-2xx/3xx answers.
bench_wrk_parse() {
    awk '
    function ms(v,   n) {
        n = v + 0
        if (v ~ /us$/) return n / 1000
        if (v ~ /ms$/) return n
        if (v ~ /m$/)  return n * 60000
        if (v ~ /h$/)  return n * 3600000
        if (v ~ /s$/)  return n * 1000
        return n
    }
    $1 == "Requests/sec:" { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    $2 == "requests" && $3 == "in" { reqs = $1 }
    /Socket errors:/ {
        for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) err += $i + 0
    }
    /Non-2xx or 3xx responses:/ { err += $NF }
    END {
        if (rps == "" || p50 == "" || p99 == "") { print "PARSE_ERROR"; exit 1 }
        printf "%.0f %.3f %.3f %d %d\n", rps, p50, p99, reqs, err + 0
    }' "$1"
}

# --- Stratus apps ----------------------------------------------------------

# bench_app_copy SRC DEST STRATUS_JSON: copy the function app folder SRC to
# DEST (timestamps kept, so built .so files stay newer than their sources and
# nothing is rebuilt; secrets left out) and set the "stratus" section of
# DEST/host.json to the JSON object STRATUS_JSON, keeping the other sections.
bench_app_copy() {
    [ -d "$1" ] || bench_die "app folder $1 not found"
    cp -Rp "$1" "$2" || bench_die "cannot copy $1 to $2"
    rm -rf "$2/.stratus/secrets"
    python3 - "$2/host.json" "$3" <<'EOF' || bench_die "cannot write $2/host.json"
import json, sys
path, section = sys.argv[1], json.loads(sys.argv[2])
try:
    with open(path) as f:
        h = json.load(f)
except FileNotFoundError:
    h = {"version": "2.0"}
h["stratus"] = section
with open(path, "w") as f:
    json.dump(h, f, indent=2)
    f.write("\n")
EOF
}

# bench_master_key: print a random 40-character master key (for
# STRATUS_MASTER_KEY, so the admin API can be used in `stratus host` mode).
bench_master_key() {
    python3 -c 'import secrets; print(secrets.token_urlsafe(30)[:40])' \
        || bench_die "cannot make a master key (python3)"
}

# bench_scale BASE_URL [KEY]: print "INSTANCES COLD_STARTS LAST_COLD_MS
# WORKER_PIDS" of the first app from GET BASE_URL/admin/host/scale
# (WORKER_PIDS comma-separated, "-" when none; "in-process 0 0 -" for an
# in-process app). KEY is sent as x-functions-key when given.
bench_scale() {
    python3 - "$1" "${2:-}" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/admin/host/scale")
if sys.argv[2]:
    req.add_header("x-functions-key", sys.argv[2])
a = json.load(urllib.request.urlopen(req, timeout=5))["apps"][0]
if a.get("mode") != "isolated":
    print("in-process 0 0 -")
else:
    pids = ",".join(str(w["pid"]) for w in a.get("workers", [])) or "-"
    print(a["instances"], a["coldStarts"], "%.3f" % a["lastColdStartMs"], pids)
EOF
}

# --- statistics and verdicts -----------------------------------------------

# bench_median: median of the numbers on stdin (one per line).
bench_median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "NA"; exit }
        if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
        print m }'
}

# bench_spread: "(max-min)/median" in percent of the numbers on stdin.
bench_spread() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "NA"; exit }
        if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (m == 0) { print "NA"; exit }
        printf "%.1f\n", (v[NR] - v[1]) * 100 / m }'
}

# bench_ratio A B: A/B with 3 decimals.
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "NA" || b == "NA") print "NA"; else printf "%.3f\n", a / b }'
}

# bench_verdict VALUE OP TARGET (OP is ge or le): print PASS or FAIL.
bench_verdict() {
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "NA") { print "N/A"; exit }
        ok = (op == "ge") ? (v + 0 >= t + 0) : (v + 0 <= t + 0)
        print ok ? "PASS" : "FAIL" }'
}

# --- CPU accounting ----------------------------------------------------------
# Noise-resistant figures: the CPU time a server spent per request, and how
# much of the server's CPU was taken by anything else during a run.

# bench_proc_ticks PID...: print CPU time (utime+stime, clock ticks) summed
# over the PIDs and their live direct children (nginx's workers are its
# master's children; Stratus's worker processes are the host's), plus the
# PIDs' cutime+cstime: the CPU time of children already exited and reaped, so
# a worker that stops during a run still counts. Sample it before and after a
# run and take the difference.
bench_proc_ticks() {
    _t=0
    for _p in "$@"; do
        # Fields after "(comm)": state is field 1, utime 12, stime 13,
        # cutime 14, cstime 15.
        _v=$(sed 's/^.*) //' "/proc/$_p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
        _t=$((_t + ${_v:-0}))
        for _c in $(ps -o pid= --ppid "$_p" 2>/dev/null); do
            _v=$(sed 's/^.*) //' "/proc/$_c/stat" 2>/dev/null | awk '{ print $12 + $13 }')
            _t=$((_t + ${_v:-0}))
        done
    done
    echo "$_t"
}

# bench_cpu_line CPU: print "TASK TOTAL STEAL" ticks of one CPU (or "all"
# for the aggregate line) from /proc/stat. TASK is user+nice+system+steal:
# time of tasks (and of the hypervisor), leaving out idle, iowait and
# irq/softirq (loopback packet processing, which is the benchmark's own).
bench_cpu_line() {
    _n=cpu$1
    [ "$1" = all ] && _n=cpu
    awk -v n="$_n" '$1 == n {
        t = 0; for (i = 2; i <= 9; i++) t += $i
        print $2 + $3 + $4 + $9, t, $9 }' /proc/stat
}

# bench_children_ms: set $BENCH_CHILDREN_MS to the CPU time (user+sys, ms)
# of this shell's waited-for children so far, from the `times` builtin. Call
# it directly (not inside $(...): a subshell has children of its own), before
# and after a foreground command such as wrk, to get that command's CPU time.
bench_children_ms() {
    times >"$BENCH_TMP/.times"
    # shellcheck disable=SC2034  # read by the sourcing script
    BENCH_CHILDREN_MS=$(awk 'NR == 2 {
        t = 0
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
        printf "%.0f\n", t * 1000 }' "$BENCH_TMP/.times")
}
