#!/usr/bin/env bash
# jwt_auth against plain reverse_proxy: same Caddy, same backend, interleaved rounds, Caddy's CPU
# per request from /proc. Caddy runs on CADDY_CPUS (default both cores, 0,1); the load generator
# and the backend share LOAD_CPUS (default core 1).
# Usage: bench/jwt_auth.sh [duration-per-turn=5s] [rounds=3] [connections=16] [tokens=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-5s} rounds=${2:-3} conc=${3:-16} ntok=${4:-1000}
caddy_cpus=${CADDY_CPUS:-0,1} load_cpus=${LOAD_CPUS:-1}
export BENCH_DIR=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$BENCH_DIR"' EXIT

go build -o "$BENCH_DIR/caddy" ./cmd/caddy
go build -o "$BENCH_DIR/loadgen" ./bench/loadgen
lg=$BENCH_DIR/loadgen
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$BENCH_DIR/es256.pem"
openssl pkey -in "$BENCH_DIR/es256.pem" -pubout -out "$BENCH_DIR/es256.pub.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$BENCH_DIR/rs256.pem" 2>/dev/null
openssl pkey -in "$BENCH_DIR/rs256.pem" -pubout -out "$BENCH_DIR/rs256.pub.pem"
"$lg" mint -key "$BENCH_DIR/es256.pem" -iss https://es256.bench -aud bench -n "$ntok" >"$BENCH_DIR/es.txt"
"$lg" mint -key "$BENCH_DIR/rs256.pem" -iss https://rs256.bench -aud bench -n "$ntok" >"$BENCH_DIR/rs.txt"
head -1 "$BENCH_DIR/es.txt" >"$BENCH_DIR/es1.txt"
head -1 "$BENCH_DIR/rs.txt" >"$BENCH_DIR/rs1.txt"

taskset -c "$load_cpus" "$lg" serve 127.0.0.1:9100 &
pids+=($!)
taskset -c "$caddy_cpus" "$BENCH_DIR/caddy" run --config bench/jwt_auth.Caddyfile --adapter caddyfile >"$BENCH_DIR/caddy.log" 2>&1 &
caddy_pid=$!
pids+=("$caddy_pid")
for _ in $(seq 100); do curl -fs http://127.0.0.1:9101/ >/dev/null 2>&1 && break; sleep 0.1; done

echo "== $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); Caddy on CPUs $caddy_cpus, loadgen and backend on $load_cpus"
echo "== c=$conc, $rounds rounds of $dur per target, $ntok distinct tokens per algorithm"
# distinct: every request a different token of $ntok, no cache: every request is a verification.
# cached_*: the same $ntok tokens with the verified-token cache (each seen again: cache hits).
# repeated_*: one token, with the verified-token cache.
# plain_again: plain once more, at the other end of each round: its ratio to plain is the harness's own
# noise floor (the same target measured twice), against which the other ratios read.
taskset -c "$load_cpus" "$lg" -c "$conc" -d "$dur" -rounds "$rounds" -pid "$caddy_pid" -clk "$(getconf CLK_TCK)" \
	-H 'Authorization: Bearer {token}' \
	-tokens plain="$BENCH_DIR/rs.txt" \
	-tokens distinct_rs256="$BENCH_DIR/rs.txt" -tokens distinct_es256="$BENCH_DIR/es.txt" \
	-tokens cached_rs256="$BENCH_DIR/rs.txt" -tokens cached_es256="$BENCH_DIR/es.txt" \
	-tokens repeated_rs256="$BENCH_DIR/rs1.txt" -tokens repeated_es256="$BENCH_DIR/es1.txt" \
	-tokens plain_again="$BENCH_DIR/rs.txt" \
	plain=http://127.0.0.1:9101/ \
	distinct_rs256=http://127.0.0.1:9102/ distinct_es256=http://127.0.0.1:9102/ \
	cached_rs256=http://127.0.0.1:9103/ cached_es256=http://127.0.0.1:9103/ \
	repeated_rs256=http://127.0.0.1:9103/ repeated_es256=http://127.0.0.1:9103/ \
	plain_again=http://127.0.0.1:9101/
