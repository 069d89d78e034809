#!/usr/bin/env bash
# jwt_auth against plain reverse_proxy, same run, same backend, interleaved rounds.
# Usage: bench/jwt_auth.sh [duration-per-turn] [rounds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-5s} rounds=${2:-3} conc=${3:-16}
export BENCH_DIR=$(mktemp -d)
trap 'kill $caddy_pid 2>/dev/null || true; rm -rf "$BENCH_DIR"' EXIT

go build -o "$BENCH_DIR/caddy" ./cmd/caddy
go build -o "$BENCH_DIR/loadgen" ./bench/loadgen
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$BENCH_DIR/es256.pem"
openssl pkey -in "$BENCH_DIR/es256.pem" -pubout -out "$BENCH_DIR/es256.pub.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$BENCH_DIR/rs256.pem" 2>/dev/null
openssl pkey -in "$BENCH_DIR/rs256.pem" -pubout -out "$BENCH_DIR/rs256.pub.pem"

"$BENCH_DIR/caddy" run --config bench/jwt_auth.Caddyfile --adapter caddyfile >"$BENCH_DIR/caddy.log" 2>&1 &
caddy_pid=$!
for _ in $(seq 50); do curl -fs http://127.0.0.1:9100/ >/dev/null 2>&1 && break; sleep 0.1; done

es=$("$BENCH_DIR/caddy" jwt mint --key "$BENCH_DIR/es256.pem" --iss https://es256.bench --aud bench --sub bench-user --ttl 1h)
rs=$("$BENCH_DIR/caddy" jwt mint --key "$BENCH_DIR/rs256.pem" --iss https://rs256.bench --aud bench --sub bench-user --ttl 1h)

echo "== ES256 (c=$conc, $rounds rounds of $dur per target)"
"$BENCH_DIR/loadgen" -c "$conc" -d "$dur" -rounds "$rounds" -H "Authorization: Bearer $es" \
	plain=http://127.0.0.1:9101/ jwt_es256=http://127.0.0.1:9102/ cached_es256=http://127.0.0.1:9103/
echo "== RS256"
"$BENCH_DIR/loadgen" -c "$conc" -d "$dur" -rounds "$rounds" -H "Authorization: Bearer $rs" \
	plain=http://127.0.0.1:9101/ jwt_rs256=http://127.0.0.1:9102/ cached_rs256=http://127.0.0.1:9103/
