#!/usr/bin/env bash
# request_signature { profile tokenio, replay } on the memory store against the same site on
# the Redis store, through two real Caddy processes (the replay store is a global option) in
# front of one backend, in interleaved rounds; each signature is sent once (-unique). CPU per
# request: memory = its Caddy; redis = its Caddy + redis-server. Redis commands per request from
# the server's INFO commandstats.
# Caddy runs on CADDY_CPUS (default 0,1), redis-server on REDIS_CPUS (default the same as Caddy:
# it competes for the gateway's cores), the load generator and the backend on LOAD_CPUS
# (default 1). TOKEN_RATE (default 20000) is the most requests per second a target is
# assumed to serve: the script mints that many signatures per second of its turns.
# Usage: bench/replay.sh [duration-per-turn=4s] [rounds=5] [connections=16]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-4s} rounds=${2:-5} conc=${3:-16}
caddy_cpus=${CADDY_CPUS:-0,1} load_cpus=${LOAD_CPUS:-1} redis_cpus=${REDIS_CPUS:-${CADDY_CPUS:-0,1}}
rate=${TOKEN_RATE:-20000} warmup=1
secs=${dur%s}
if ! [[ $secs =~ ^[0-9]+$ ]]; then
	echo "replay.sh: give the duration in whole seconds (e.g. 4s), not $dur" >&2
	exit 2
fi
ntok=$((rate * (warmup + rounds * secs)))
command -v redis-server >/dev/null || { echo "replay.sh: redis-server is not installed (apt-get install -y redis-server)" >&2; exit 2; }
export BENCH_DIR=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$BENCH_DIR"' EXIT

nice -n 19 go build -o "$BENCH_DIR/caddy" ./cmd/caddy
nice -n 19 go build -o "$BENCH_DIR/loadgen" ./bench/loadgen
lg=$BENCH_DIR/loadgen
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$BENCH_DIR/es256.pem"
openssl pkey -in "$BENCH_DIR/es256.pem" -pubout -out "$BENCH_DIR/es256.pub.pem"
ports=($("$lg" free-ports 4))
backend_port=${ports[0]} mem_port=${ports[1]} redis_caddy_port=${ports[2]} redis_port=${ports[3]}

# One signature per request: the host is each Caddy's own (it is in the signed header).
t0=$(date +%s%N)
"$lg" mint-sig -key "$BENCH_DIR/es256.pem" -host "127.0.0.1:$mem_port" -path /pay -n "$ntok" >"$BENCH_DIR/memory.txt"
"$lg" mint-sig -key "$BENCH_DIR/es256.pem" -host "127.0.0.1:$redis_caddy_port" -path /pay -n "$ntok" >"$BENCH_DIR/redis.txt"
echo "== minted 2 x $ntok signatures in $((($(date +%s%N) - t0) / 1000000)) ms"

taskset -c "$redis_cpus" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$BENCH_DIR" --logfile "$BENCH_DIR/redis.log" --daemonize no &
redis_pid=$!
pids+=("$redis_pid")
taskset -c "$load_cpus" "$lg" serve "127.0.0.1:$backend_port" &
backend_pid=$!
pids+=("$backend_pid")
start_caddy() { # name store port
	mkdir -p "$BENCH_DIR/$1"
	XDG_DATA_HOME=$BENCH_DIR/$1 XDG_CONFIG_HOME=$BENCH_DIR/$1 REPLAY_STORE=$2 REPLAY_PORT=$3 BACKEND_PORT=$backend_port \
		taskset -c "$caddy_cpus" "$BENCH_DIR/caddy" run --config bench/replay.Caddyfile --adapter caddyfile >"$BENCH_DIR/$1.log" 2>&1 &
}
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$redis_port" && printf 'PING\r\n' >&3 && read -r -t 1 line <&3 && [[ $line == +PONG* ]]) 2>/dev/null && break
	sleep 0.1
done
start_caddy memory memory "$mem_port"
mem_pid=$!
pids+=("$mem_pid")
start_caddy redis "redis 127.0.0.1:$redis_port" "$redis_caddy_port"
redis_caddy_pid=$!
pids+=("$redis_caddy_pid")
for port in "$mem_port" "$redis_caddy_port"; do
	for _ in $(seq 100); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/pay") == 401 ]] && break
		sleep 0.1
	done
done
# Each process must be ours and running (a free port could have been taken in the meantime).
for p in "$redis_pid" "$backend_pid" "$mem_pid" "$redis_caddy_pid"; do
	if ! kill -0 "$p" 2>/dev/null; then
		echo "replay.sh: process $p exited at start:" >&2
		tail -n 5 "$BENCH_DIR"/*.log >&2
		exit 1
	fi
done

echo "== $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); Caddy on CPUs $caddy_cpus, redis-server on $redis_cpus, loadgen and backend on $load_cpus"
echo "== c=$conc, $rounds rounds of $dur per target, each request a fresh tokenio signature (ES256), $ntok per target"
taskset -c "$load_cpus" "$lg" -c "$conc" -d "$dur" -rounds "$rounds" -warmup "${warmup}s" -unique -clk "$(getconf CLK_TCK)" \
	-pid memory="$mem_pid" -pid redis="$redis_caddy_pid,$redis_pid" -redis redis="127.0.0.1:$redis_port" \
	-H 'Authorization: Bearer {token}' \
	-tokens memory="$BENCH_DIR/memory.txt" -tokens redis="$BENCH_DIR/redis.txt" \
	memory="http://127.0.0.1:$mem_port/pay" redis="http://127.0.0.1:$redis_caddy_port/pay"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
