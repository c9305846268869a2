#!/usr/bin/env bash
# tests/bench/reload.sh: how long a config reload takes to apply the director's difference
# (issue 9 part 5), with N real servers.
#
# One daemon in a network namespace of its own, one director service (wrr) with N real servers
# (10.77.0.11:10000.., check none: only the reload is measured). Each step rewrites the config and
# runs `appliancectl reload`; the reply gives the kernel's time for the one nft transaction and the
# whole reload inside the daemon (read, trust checks, validation, diff, plan, transaction, checks);
# the wall time of appliancectl (process start included) is measured here. ROUNDS rounds; medians
# (max).
#
#   BENCH_RELOAD_SERVERS=1000  BENCH_RELOAD_ROUNDS=5
# Root only. Prints a small markdown table on stdout.
set -euo pipefail
SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/../.." && pwd)
BIN=${APPLIANCE_BIN:-$REPO/out/bin}
N=${BENCH_RELOAD_SERVERS:-1000}
ROUNDS=${BENCH_RELOAD_ROUNDS:-5}
NS="apl-brld-$$"
DIR=$(mktemp -d /tmp/apl-bench-reload-XXXXXX)
DAEMON_PID=""

cleanup() {
    if [[ -n "$DAEMON_PID" ]] && kill -TERM "$DAEMON_PID" 2>/dev/null; then
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    ip netns delete "$NS" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

ip netns add "$NS"
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up
nsx ip link add eth0 type veth peer name eth0p
nsx ip link add in0 type veth peer name in0p
for l in eth0 eth0p in0 in0p; do nsx ip link set "$l" up; done
nsx ip addr add 192.0.2.1/24 dev eth0
nsx ip addr add 10.77.0.1/24 dev in0
head -c 32 /dev/urandom >"$DIR/authkey"; chmod 600 "$DIR/authkey"
CFG="$DIR/appliance.yaml"
SOCK="$DIR/control.sock"

# config SCHEDULER COUNT WEIGHT: the file with COUNT real servers, every other one at WEIGHT.
config() {
    local sched=$1 count=$2 weight=$3 i
    {
        cat <<EOF
cluster:
  name: benchrld
  key_file: $DIR/authkey
  fencing: off
  timers: {keepalive: 200ms, warntime: 600ms, deadtime: 1s, initdead: 2s}
nodes:
  - name: alpha
    links:
      - {name: lan0, kind: udp, local: 127.0.0.1, peer: 127.0.0.2, port: 23697}
  - name: beta
    links:
      - {name: lan0, kind: udp, local: 127.0.0.2, peer: 127.0.0.1, port: 23697}
resources:
  - {name: vip-web, kind: vip, address: 192.0.2.10/24, interface: eth0}
  - {name: gw-inside, kind: vip, address: 10.77.0.254/24, interface: in0}
director:
  inside_vips: [gw-inside]
  services:
    - name: web
      listen: 192.0.2.10:80/tcp
      scheduler: $sched
      forwarding: nat
      check: {kind: none}
      real_servers:
EOF
        for ((i = 0; i < count; i++)); do
            echo "        - {address: 10.77.0.11:$((10000 + i)), weight: $(( i % 2 ? weight : 1 ))}"
        done
    } >"$CFG.tmp"
    chmod 600 "$CFG.tmp"
    mv -f "$CFG.tmp" "$CFG"
}

config wrr "$N" 1
nsx "$BIN/applianced" --config "$CFG" --node alpha --control "$SOCK" --state-dir "$DIR/state" >"$DIR/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 200); do
    nsx "$BIN/appliancectl" --control "$SOCK" services --json 2>/dev/null | grep -q '"loaded":true' && break
    sleep 0.1
done

# step NAME SCHED COUNT WEIGHT: one reload; appends "NAME kernel_ms reload_ms read_ms wall_ms" to $DIR/steps.
step() {
    local name=$1 out t0 t1 kernel reload read
    config "$2" "$3" "$4"
    t0=$(date +%s%N)
    out=$(nsx "$BIN/appliancectl" --control "$SOCK" reload) || { echo "reload refused: $out" >&2; exit 1; }
    t1=$(date +%s%N)
    if [[ $out =~ kernel\ ([0-9.]+)\ ms,\ reload\ ([0-9.]+)\ ms\ of\ which\ reading\ and\ validating\ ([0-9.]+)\ ms ]]; then
        kernel=${BASH_REMATCH[1]}; reload=${BASH_REMATCH[2]}; read=${BASH_REMATCH[3]}
    elif [[ $out =~ nothing\ changed\ \(reload\ ([0-9.]+)\ ms ]]; then
        kernel=0; reload=${BASH_REMATCH[1]}; read=$reload # no transaction
    else
        echo "unexpected reply: $out" >&2; exit 1
    fi
    echo "$name $kernel $reload $read $(( (t1 - t0) / 1000 ))" >>"$DIR/steps"
}

third=$((N / 4))
for ((r = 0; r < ROUNDS; r++)); do
    step "weights-of-half" wrr "$N" 3
    step "add-$third-servers" wrr "$((N + third))" 3
    step "remove-$third-servers" wrr "$N" 3
    step "scheduler-wrr-to-sh" sh "$N" 3
    step "same-file" sh "$N" 3
    step "back-to-start" wrr "$N" 1
done

echo "| reload step ($N real servers) | nft transaction (kernel) ms | reload in the daemon ms | of which reading + validating ms | appliancectl wall ms |"
echo "| --- | --- | --- | --- | --- |"
python3 - "$DIR/steps" <<'EOF'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, k, r, v, w = line.split()
    rows.setdefault(name, []).append((float(k), float(r), float(v), int(w) / 1000))
for name, v in rows.items():
    med = lambda i: statistics.median(x[i] for x in v)
    mx = lambda i: max(x[i] for x in v)
    print(f"| {name} | {med(0):.1f} ({mx(0):.1f}) | {med(1):.1f} ({mx(1):.1f}) | {med(2):.1f} ({mx(2):.1f}) | {med(3):.1f} ({mx(3):.1f}) |")
EOF
