#!/usr/bin/env bash
# tests/bench/checks.sh: the cost of the director's real-server checks (issue 9 part 8).
#
# One daemon in a network namespace of its own, a director service with N real servers
# (10.77.0.11:10000.., one asyncio process listening on all of them), a tcp check every INTERVAL.
# It measures the daemon process's CPU (utime+stime from /proc, the heartbeat worker is another
# process) over SECONDS, once with `check: {kind: none}` (the baseline: the same daemon, no checks)
# and once with tcp checks, and reads the checks' stats from `services --json` (checks started,
# slots skipped, worst lateness of any check behind its due time).
# The floor: while the baseline daemon runs (its director table loaded, so conntrack is active as in
# the tcp run), tests/bench/checkfloor.c makes the same connections at the same rate in C (socket,
# SO_LINGER 0, connect, poll, SO_ERROR, close) and reports its own CPU: what any checker pays here.
# On loopback that includes the real servers' half of every handshake, which the kernel processes
# in the connecting thread (softirq); on a real network that half is the real server's.
#
#   BENCH_CHECK_SERVERS=1000  BENCH_CHECK_INTERVAL=1s  BENCH_CHECK_SECONDS=20  BENCH_CHECK_KIND=tcp
#   BENCH_CHECK_NET=loopback|veth
# loopback: the real servers' address is local to the daemon's namespace, and the kernel runs both
# ends of every handshake in the connecting thread (softirq), so the daemon is charged for the real
# servers' half too. veth: the real servers sit in a namespace of their own behind a veth pair whose
# receive side is steered (RPS) to CPU 1 while the daemon, the floor and nothing else run pinned to
# CPU 0: receive processing happens in softirq on the other CPU, as a NIC's does, and the daemon is
# charged for what a checker does on a real network (its syscalls and its transmit path).
# Root only. Prints a small markdown table on stdout.
set -euo pipefail
SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/../.." && pwd)
BIN=${APPLIANCE_BIN:-$REPO/out/bin}
N=${BENCH_CHECK_SERVERS:-1000}
INTERVAL=${BENCH_CHECK_INTERVAL:-1s}
SECONDS_RUN=${BENCH_CHECK_SECONDS:-20}
KIND=${BENCH_CHECK_KIND:-tcp}
NET=${BENCH_CHECK_NET:-loopback}
[[ $NET == loopback || $NET == veth ]] || { echo "checks.sh: BENCH_CHECK_NET is loopback or veth" >&2; exit 2; }
[[ $NET != veth ]] || (($(nproc) >= 2)) || { echo "checks.sh: veth needs 2 CPUs" >&2; exit 2; }
HZ=$(getconf CLK_TCK)
INTERVAL_MS=$(python3 -c "import sys; v = sys.argv[1]; print(int(float(v[:-2])) if v.endswith('ms') else int(float(v[:-1]) * 1000))" "$INTERVAL")
NS="apl-bchk-$$"
RSNS="apl-bchkrs-$$"
PIN=()
DIR=$(mktemp -d /tmp/apl-bench-checks-XXXXXX)
LISTENER_PID=""
FLOOR_PID=""

cleanup() {
    if [[ -n "$LISTENER_PID" ]]; then kill "$LISTENER_PID" 2>/dev/null || true; fi
    if [[ -n "$FLOOR_PID" ]]; then kill "$FLOOR_PID" 2>/dev/null || true; fi
    ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
    sleep 0.5
    ip netns delete "$NS" 2>/dev/null || true
    ip netns delete "$RSNS" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

ip netns add "$NS"
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up
nsx ip link add eth0 type veth peer name eth0p
rsx() { ip netns exec "$RSNS" "$@"; }
if [[ $NET == loopback ]]; then
    nsx ip link add in0 type veth peer name in0p
    for l in eth0 eth0p in0 in0p; do nsx ip link set "$l" up; done
    nsx ip addr add 10.77.0.1/24 dev in0
    nsx ip addr add 10.77.0.11/32 dev in0
    RS=(nsx)
else
    ip netns add "$RSNS"
    rsx ip link set lo up
    nsx ip link add in0 type veth peer name rs0 netns "$RSNS"
    for l in eth0 eth0p in0; do nsx ip link set "$l" up; done
    rsx ip link set rs0 up
    nsx ip addr add 10.77.0.1/24 dev in0
    rsx ip addr add 10.77.0.11/24 dev rs0
    rsx ip route add default via 10.77.0.1
    # both receive sides to CPU 1 (mask 2); everything measured runs on CPU 0
    nsx sh -c 'echo 2 >/sys/class/net/in0/queues/rx-0/rps_cpus'
    rsx sh -c 'echo 2 >/sys/class/net/rs0/queues/rx-0/rps_cpus'
    PIN=(taskset -c 0)
    RS=(taskset -c 1 ip netns exec "$RSNS")
fi
nsx ip addr add 192.0.2.1/24 dev eth0

# The real servers: one asyncio process, N listening ports that accept and close.
"${RS[@]}" python3 - "$N" <<'EOF' &
import asyncio, sys, resource
n = int(sys.argv[1])
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
async def handle(r, w):
    w.close()
async def main():
    servers = [await asyncio.start_server(handle, "10.77.0.11", 10000 + i, backlog=64) for i in range(n)]
    await asyncio.Event().wait()
asyncio.run(main())
EOF
LISTENER_PID=$!
for _ in $(seq 100); do
    [[ $("${RS[@]}" ss -Hltn "src 10.77.0.11" | wc -l) -ge $N ]] && break
    sleep 0.1
done

head -c 32 /dev/urandom >"$DIR/authkey"; chmod 600 "$DIR/authkey"
cc -O2 -Wall -o "$DIR/checkfloor" "$(dirname "$SELF")/checkfloor.c"

run() { # run KIND -> prints "cpu_percent started skipped worst_late_ms"
    local kind=$1 cfg="$DIR/appliance-$1.yaml" sock="$DIR/control-$1.sock"
    {
        cat <<EOF
cluster:
  name: benchchk
  key_file: $DIR/authkey
  fencing: off
  timers: {keepalive: 200ms, warntime: 600ms, deadtime: 1s, initdead: 2s}
nodes:
  - name: alpha
    links:
      - {name: lan0, kind: udp, local: 127.0.0.1, peer: 127.0.0.2, port: 23696}
  - name: beta
    links:
      - {name: lan0, kind: udp, local: 127.0.0.2, peer: 127.0.0.1, port: 23696}
resources:
  - {name: vip-web, kind: vip, address: 192.0.2.10/24, interface: eth0}
  - {name: gw-inside, kind: vip, address: 10.77.0.254/24, interface: in0}
director:
  inside_vips: [gw-inside]
  services:
    - name: web
      listen: 192.0.2.10:80/tcp
      scheduler: rr
      forwarding: nat
EOF
        if [[ $kind == none ]]; then echo "      check: {kind: none}"
        else echo "      check: {kind: $kind, interval: $INTERVAL, timeout: 500ms, rise: 2, fall: 3}"; fi
        echo "      real_servers:"
        for i in $(seq 0 $((N - 1))); do echo "        - {address: 10.77.0.11:$((10000 + i))}"; done
    } >"$cfg"
    chmod 600 "$cfg"
    "${PIN[@]}" ip netns exec "$NS" "$BIN/applianced" --config "$cfg" --node alpha --control "$sock" --state-dir "$DIR/state-$kind" >"$DIR/daemon-$kind.log" 2>&1 &
    local pid=$!
    for _ in $(seq 200); do
        nsx "$BIN/appliancectl" --control "$sock" services --json 2>/dev/null | grep -q '"loaded":true' && break
        sleep 0.1
    done
    sleep 3 # past start-up (JIT, the first load), into the steady state
    ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
    systicks() { awk '{print $15}' "/proc/$pid/stat"; }
    local t0 c0 t1 c1 s0 s1
    t0=$(date +%s.%N); c0=$(ticks); s0=$(systicks)
    if [[ $kind == none && $KIND == tcp ]]; then
        "${PIN[@]}" ip netns exec "$NS" "$DIR/checkfloor" 10.77.0.11 10000 "$N" "$INTERVAL_MS" 25 "$SECONDS_RUN" >"$DIR/floor.out" &
        FLOOR_PID=$!
    fi
    if [[ -n "${BENCH_CHECK_PERF:-}" && $kind != none ]]; then # where the time goes (DOTNET_PerfMapEnabled=1 names the managed frames)
        perf record -F 999 -p "$pid" -o "$DIR/perf.data" -- sleep "$SECONDS_RUN" >/dev/null 2>&1
        cp "$DIR/perf.data" "${BENCH_CHECK_PERF_KEEP:-/dev/null}" 2>/dev/null || true
        perf report -i "$DIR/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 >&2
    else
        sleep "$SECONDS_RUN"
    fi
    t1=$(date +%s.%N); c1=$(ticks); s1=$(systicks)
    if [[ -n $FLOOR_PID ]]; then wait "$FLOOR_PID" || true; FLOOR_PID=""; fi
    if [[ -n "${BENCH_CHECK_THREADS:-}" ]]; then # per thread: context switches and CPU ticks since start (where the wake-ups are)
        for t in /proc/"$pid"/task/*; do
            printf '%s %s %s %s\n' "$(tr " " _ <"$t/comm")" "$(awk '/^voluntary_ctxt/ {print $2}' "$t/status")" \
                "$(awk '/^nonvoluntary_ctxt/ {print $2}' "$t/status")" "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
        done | awk '{v[$1] += $2; n[$1] += $3; c[$1] += $4; k[$1]++} END {for (x in v) printf "  %-18s x%d  vol %d  invol %d  ticks %d\n", x, k[x], v[x], n[x], c[x]}' | sort -k5 -n -r >&2
    fi
    echo "$kind: system (kernel) share $(( (s1 - s0) * 100 / (c1 - c0 + 1) ))% of the daemon's CPU" >&2
    nsx "$BIN/appliancectl" --control "$sock" services --json >"$DIR/services-$kind.json"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$DIR/services-$kind.json" "$c0" "$c1" "$t0" "$t1" "$HZ" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1])); c0, c1, t0, t1, hz = map(float, sys.argv[2:])
cpu = (c1 - c0) / hz / (t1 - t0) * 100
c = j.get("checks", {})
down = sum(1 for s in j["services"] for r in s["servers"] if r["state"] == "down")
print(f'{cpu:.2f} {c.get("started", 0)} {c.get("skipped", 0)} {c.get("worst_late_ms", 0)} {down}')
EOF
}

echo "- - -" >"$DIR/floor.out"
read -r base_cpu _ _ _ _ < <(run none)
read -r floor_cpu floor_checks _ <"$DIR/floor.out"
read -r cpu started skipped late down < <(run "$KIND")
echo "| checks ($NET) | servers | interval | seconds | daemon CPU (% of a core) | of which checks | checks started | skipped | worst lateness | down |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
echo "| none | $N | - | $SECONDS_RUN | $base_cpu | - | - | - | - | - |"
echo "| $KIND | $N | $INTERVAL | $SECONDS_RUN | $cpu | $(python3 -c "print(f'{$cpu - $base_cpu:.2f}')") | $started | $skipped | ${late} ms | $down |"
if [[ $KIND == tcp ]]; then
    echo "| floor: the same connects in C (checkfloor.c) | $N | $INTERVAL | $SECONDS_RUN | - | $floor_cpu | $floor_checks | - | - | - |"
fi
