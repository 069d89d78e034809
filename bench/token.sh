#!/usr/bin/env bash
# client_credentials grants through a real Caddy: a DCR-registered private_key_jwt client with
# PS256 assertions, ES256 and PS256 tokens, keep-alive, beside a plain respond in the same rounds.
# Usage: bench/token.sh [duration-per-turn=5s] [rounds=3] [connections=16] [assertions=40000]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/caddy" ./cmd/caddy
go build -o "$dir/tokenload" ./bench/tokenload
"$dir/tokenload" -caddy "$dir/caddy" -d "${1:-5s}" -rounds "${2:-3}" -c "${3:-16}" -assertions "${4:-40000}"
