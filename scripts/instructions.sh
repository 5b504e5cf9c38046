#!/usr/bin/env bash
# Instructions per cached manifest GET, counted by callgrind over every thread of a release
# `berth serve`, with observability off, metrics only, the JSON access log only, and both.
# Unlike a throughput ratio on a shared machine, the count hardly moves from run to run; it
# leaves out the kernel (the same system calls in every mode) and cache effects.
#
#   scripts/instructions.sh [REQUESTS]      (default 3000; needs valgrind and ab)
#
# Prints one line per mode: instructions per request, and the ratio to "off".
set -euo pipefail

requests=${1:-3000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BERTH_BIN:-$root/target/release/berth}
for tool in valgrind callgrind_control ab curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install valgrind apache2-utils curl)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "no release build at $bin: cargo build --release -p berth" >&2; exit 1; }

empty=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
manifest='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"'$empty'","size":2},"layers":[]}'
accept='Accept: application/vnd.oci.image.manifest.v1+json'

# count MODE: instructions per GET of one manifest by tag, 8 connections kept alive.
count() {
    local mode=$1 dir port pid url total=0
    dir=$(mktemp -d)
    port=$((20000 + RANDOM % 20000))
    case $mode in
        off) config='metrics = false'; level=warn ;;
        metrics) config='metrics = true'; level=warn ;;
        log) config=$'metrics = false\nlog_format = "json"'; level=info ;;
        observed) config=$'metrics = true\nlog_format = "json"'; level=info ;;
    esac
    printf '%s\n' "$config" >"$dir/berth.toml"
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/callgrind.out" \
        "$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" \
        --config "$dir/berth.toml" --log "$level" >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.2; done
    url="http://127.0.0.1:$port/v2/bench/app/manifests/v1"
    curl -sf -X POST "http://127.0.0.1:$port/v2/bench/app/blobs/uploads/?digest=$empty" \
        -H 'content-type: application/octet-stream' --data-binary '{}' -o /dev/null
    curl -sf -X PUT "$url" -H 'content-type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary "$manifest" -o /dev/null
    # Warm up (caches, thread-local buffers, metric handles), then count only the measured GETs.
    ab -q -k -n 1000 -c 8 -H "$accept" "$url" >/dev/null
    callgrind_control -i on "$pid" >/dev/null 2>&1
    ab -q -k -n "$requests" -c 8 -H "$accept" "$url" | grep -q "Failed requests: *0"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    for file in "$dir"/callgrind.out*; do
        total=$((total + $(awk '/^totals:/ {print $2}' "$file" | head -1)))
    done
    rm -rf "$dir"
    echo $((total / requests))
}

off=$(count off)
echo "off: $off instructions per GET"
for mode in metrics log observed; do
    n=$(count "$mode")
    awk -v m="$mode" -v n="$n" -v off="$off" \
        'BEGIN { printf "%s: %d instructions per GET, %.3f of off\n", m, n, n / off }'
done
