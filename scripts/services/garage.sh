#!/usr/bin/env bash
# Starts (or reuses) a single-node Garage S3 server for the tests, with bucket `berth-test` and
# key `berth-test-key`, and writes the variables the tests read to target/services/garage/env
# (also printed). Idempotent: a second run reuses the running server, bucket and key.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="$root/target/services/garage"
conf="$dir/garage.toml"
s3_port=3900
rpc_port=3901
admin_port=3903
bucket=berth-test
key_name=berth-test-key

if ! command -v garage >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/garage" ]; then
    echo "garage.sh: installing garage with cargo (takes a while)" >&2
    cargo install garage --locked
fi
garage_bin="$(command -v garage || echo "$HOME/.cargo/bin/garage")"
g() { "$garage_bin" -c "$conf" "$@"; }

mkdir -p "$dir/meta" "$dir/data"
if [ ! -f "$conf" ]; then
    umask 077
    cat >"$conf" <<EOF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1

rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n")"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"

[admin]
api_bind_addr = "127.0.0.1:$admin_port"
EOF
fi
chmod 0600 "$conf"

running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }
if ! running; then
    nohup "$garage_bin" -c "$conf" server >>"$dir/garage.log" 2>&1 &
    echo $! >"$dir/pid"
fi
for _ in $(seq 1 100); do
    if g status >/dev/null 2>&1; then break; fi
    running || { echo "garage.sh: server exited, see $dir/garage.log" >&2; tail -20 "$dir/garage.log" >&2; exit 1; }
    sleep 0.2
done
g status >/dev/null

if g status | grep -q "NO ROLE ASSIGNED"; then
    node_id="$(g node id -q | cut -d@ -f1)"
    g layout assign -z dc1 -c 1G "$node_id" >/dev/null
    version="$(g layout show | sed -n 's/.*[Cc]urrent cluster layout version: *\([0-9]*\).*/\1/p' | head -1)"
    g layout apply --version "$(( ${version:-0} + 1 ))" >/dev/null
fi

# The layout takes a moment to be usable.
for _ in $(seq 1 50); do
    if g bucket info "$bucket" >/dev/null 2>&1 || g bucket create "$bucket" >/dev/null 2>&1; then break; fi
    sleep 0.2
done
g bucket info "$bucket" >/dev/null

if ! g key info "$key_name" >/dev/null 2>&1; then
    g key create "$key_name" >/dev/null
fi
g bucket allow --read --write --owner "$bucket" --key "$key_name" >/dev/null

info="$(g key info --show-secret "$key_name")"
key_id="$(printf '%s\n' "$info" | sed -n 's/^ *Key ID: *\([^ ]*\).*/\1/p' | head -1)"
secret="$(printf '%s\n' "$info" | sed -n 's/^ *Secret key: *\([^ ]*\).*/\1/p' | head -1)"
if [ -z "$key_id" ] || [ -z "$secret" ]; then
    echo "garage.sh: could not read the key from \`garage key info\`:" >&2
    printf '%s\n' "$info" >&2
    exit 1
fi

umask 077
cat >"$dir/env" <<EOF
BERTH_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
BERTH_TEST_S3_BUCKET=$bucket
BERTH_TEST_S3_REGION=garage
AWS_ACCESS_KEY_ID=$key_id
AWS_SECRET_ACCESS_KEY=$secret
EOF
cat "$dir/env"
