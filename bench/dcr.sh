#!/bin/sh
# DCR registrations per second on the default file storage with the software's JWKS warm.
# Usage: bench/dcr.sh [iterations=3000] [count=3]
set -eu
cd "$(dirname "$0")/.."
exec go test -run='^$' -bench=Register -benchtime="${1:-3000}x" -count="${2:-3}" ./dcrhandler
