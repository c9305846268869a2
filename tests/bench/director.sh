#!/usr/bin/env bash
# tests/bench/director.sh: the director's data path and ruleset costs (issue 9 part 8).
#
# Three network namespaces of its own: a client (192.0.2.100), the director (one applianced,
# 192.0.2.1 outside, 10.77.0.1 inside, forwarding on) and a real server (10.77.0.11) running
# tests/bench/netload.c. The client reaches the service at 192.0.2.10:80 (DNAT by the daemon's
# `table inet appliance`) and, as the peer, the real server directly at 10.77.0.11:5001 (the same
# hops and the same conntrack, no DNAT). Parts:
#   path   bulk transfer MB/s and new connections/s, director vs direct, ROUNDS alternating rounds
#          of SECONDS each: medians and the ratio director/direct (goal >= 0.9)
#   flip   a real server (its own netload, 10.77.0.11:5002) with a tcp check at 1 s, fall 1, rise 1
#          is stopped and started ROUNDS times: the daemon's check-flip -> kernel-updated latency
#          (`services --json` .checks.last_flip_ms) and its nft transaction time (event 1820)
#   apply  the table at 10/100/1000/5000 real servers: full load (event 1810) and a one-server change
#          (drain/undrain, event 1811), vs the same ruleset loaded by `nft -f` (a process) as the peer
#
#   BENCH_DIRECTOR_ROUNDS=5  BENCH_DIRECTOR_SECONDS=3  BENCH_DIRECTOR_PARTS="path flip apply"
#   BENCH_DIRECTOR_SIZES="10 100 1000 5000"
# Root only. Progress on stderr, a markdown report on stdout.
set -euo pipefail
SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
REPO=$(cd "$HERE/../.." && pwd)
BIN=${APPLIANCE_BIN:-$REPO/out/bin}
ROUNDS=${BENCH_DIRECTOR_ROUNDS:-5}
SECS=${BENCH_DIRECTOR_SECONDS:-3}
PARTS=${BENCH_DIRECTOR_PARTS:-path flip apply}
SIZES=${BENCH_DIRECTOR_SIZES:-10 100 1000 5000}
CNS="apl-bdirc-$$"
DNS="apl-bdird-$$"
RNS="apl-bdirr-$$"
DIR=$(mktemp -d /tmp/apl-bench-director-XXXXXX)
PIDS=()
DAEMON_PID=""
VICTIM_PID=""
T0=$SECONDS

log() { printf '[director %3ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { echo "director.sh: FAILED: $*" >&2; exit 1; }

cleanup() {
    local p
    [[ -z $DAEMON_PID ]] || kill -TERM "$DAEMON_PID" 2>/dev/null || true
    [[ -z $VICTIM_PID ]] || kill "$VICTIM_PID" 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "$CNS" "$DNS" "$RNS"; do ip netns delete "$p" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT

(($(id -u) == 0)) || die "must run as root (network namespaces)"
[[ -x $BIN/applianced && -x $BIN/appliancectl ]] || die "no applianced/appliancectl in $BIN (make bin)"
cc -O2 -Wall -o "$DIR/netload" "$HERE/netload.c" || die "cannot compile netload.c"
NL=$DIR/netload

cx() { ip netns exec "$CNS" "$@"; }
dx() { ip netns exec "$DNS" "$@"; }
rx() { ip netns exec "$RNS" "$@"; }
for n in "$CNS" "$DNS" "$RNS"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n "$CNS" link add c0 type veth peer name eth0 netns "$DNS"
ip -n "$RNS" link add rs0 type veth peer name in0 netns "$DNS"
ip -n "$CNS" link set c0 up; ip -n "$DNS" link set eth0 up; ip -n "$DNS" link set in0 up; ip -n "$RNS" link set rs0 up
ip -n "$CNS" addr add 192.0.2.100/24 dev c0
ip -n "$DNS" addr add 192.0.2.1/24 dev eth0
ip -n "$DNS" addr add 10.77.0.1/24 dev in0
ip -n "$RNS" addr add 10.77.0.11/24 dev rs0
ip -n "$CNS" route add 10.77.0.0/24 via 192.0.2.1
ip -n "$CNS" route add 192.0.2.10/32 via 192.0.2.1   # the VIP, whether or not the daemon holds it yet
ip -n "$RNS" route add default via 10.77.0.1
dx sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$RNS" "$NL" serve 10.77.0.11 5001 & PIDS+=($!)
head -c 32 /dev/urandom >"$DIR/authkey"; chmod 600 "$DIR/authkey"

# Most real servers per service (the config's bound); more are spread over services web, web2, ...
SERVICE_SERVERS_MAX=2500

# config FILE CHECK SERVERS...: a director config, service web (and web2... on ports 81.. beyond
# SERVICE_SERVERS_MAX servers).
config() {
    local file=$1 check=$2 s k=0 svc=1; shift 2
    {
        cat <<EOF
cluster:
  name: benchdir
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
  - {name: gw-inside, kind: vip, address: 10.77.0.254/16, interface: in0}
director:
  inside_vips: [gw-inside]
  services:
    - name: web
      listen: 192.0.2.10:80/tcp
      scheduler: rr
      forwarding: nat
      check: $check
      real_servers:
EOF
        for s in "$@"; do
            if ((k == SERVICE_SERVERS_MAX)); then
                k=0; svc=$((svc + 1))
                printf '    - name: web%s\n      listen: 192.0.2.10:%s/tcp\n      scheduler: rr\n      forwarding: nat\n      check: %s\n      real_servers:\n' \
                    "$svc" "$((79 + svc))" "$check"
            fi
            echo "        - {address: $s}"
            k=$((k + 1))
        done
    } >"$file"
    chmod 600 "$file"
}

# daemon_start CONFIG TAG: start applianced in the director namespace, wait (60 s) for the table.
daemon_start() {
    SOCK=$DIR/control-$2.sock
    DLOG=$DIR/daemon-$2.log
    ip netns exec "$DNS" "$BIN/applianced" --config "$1" --node alpha --control "$SOCK" --state-dir "$DIR/state-$2" >"$DLOG" 2>&1 &
    DAEMON_PID=$!
    local i
    for i in $(seq 600); do
        dx "$BIN/appliancectl" --control "$SOCK" services --json 2>/dev/null | grep -q '"loaded":true' && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || { tail -n 20 "$DLOG" >&2; die "applianced ($2) exited"; }
        sleep 0.1
    done
    tail -n 20 "$DLOG" >&2
    die "applianced ($2): table not loaded within 60 s"
}
daemon_stop() {
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=""
}
ctl() { dx "$BIN/appliancectl" --control "$SOCK" "$@"; }
# tx: the daemon's nft transactions so far (event 1802, "applied in Xms (library, Yms round trip)"),
# one "X Y" line each, oldest first; the first is the table's load.
tx() { grep -oE 'nft transaction of [0-9]+ bytes applied in [0-9.]+ms \([a-z]+, [0-9.]+ms round trip\)' "$DLOG" | sed -E 's/.* in ([0-9.]+)ms \([a-z]+, ([0-9.]+)ms.*/\1 \2/'; }
services_json() { ctl services --json; }
jfield() { python3 -c "import json, sys; j = json.load(sys.stdin); print(j$1)"; }

# median: numbers on stdin -> median (or -)
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b}'; }

REPORT=$DIR/report.md
: >"$REPORT"

# ------------------------------------------------------------------ path + flip (one daemon)
if [[ " $PARTS " == *" path "* || " $PARTS " == *" flip "* ]]; then
    ip netns exec "$RNS" "$NL" serve 10.77.0.11 5002 & VICTIM_PID=$!
    config "$DIR/path.yaml" "{kind: tcp, interval: 1s, timeout: 500ms, rise: 1, fall: 1}" 10.77.0.11:5001 10.77.0.11:5002
    daemon_start "$DIR/path.yaml" path
    sleep 2
fi

if [[ " $PARTS " == *" path "* ]]; then
    log "path: $ROUNDS rounds of ${SECS}s, bulk and new connections, direct (10.77.0.11:5001) and director (192.0.2.10:80)"
    : >"$DIR/path.tsv"
    for ((r = 1; r <= ROUNDS; r++)); do
        for how in direct director; do
            if [[ $how == direct ]]; then a=10.77.0.11; p=5001; else a=192.0.2.10; p=80; fi
            mb=$(cx "$NL" bulk "$a" "$p" "$SECS") || die "bulk $how failed"
            read -r c f < <(cx "$NL" cps "$a" "$p" "$SECS") || die "cps $how failed"
            printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$how" "$mb" "$c" "$f" >>"$DIR/path.tsv"
            log "  round $r $how: ${mb} MB/s, ${c} connections/s (${f} failed)"
        done
    done
    bd=$(awk -F'\t' '$2 == "direct" {print $3}' "$DIR/path.tsv" | median)
    bn=$(awk -F'\t' '$2 == "director" {print $3}' "$DIR/path.tsv" | median)
    cd_=$(awk -F'\t' '$2 == "direct" {print $4}' "$DIR/path.tsv" | median)
    cn=$(awk -F'\t' '$2 == "director" {print $4}' "$DIR/path.tsv" | median)
    fails=$(awk -F'\t' '{s += $5} END {print s + 0}' "$DIR/path.tsv")
    {
        echo "### Data path (director vs direct to the real server)"
        echo
        echo "$ROUNDS alternating rounds of ${SECS} s; client, director and real server in three namespaces"
        echo "joined by veth pairs (one machine, $(nproc) CPUs). Direct = the same hops and conntrack, no DNAT."
        echo
        echo "| measure | direct (median) | director (median) | ratio director/direct | goal |"
        echo "|---|---|---|---|---|"
        echo "| bulk transfer, MB/s (one TCP connection) | $bd | $bn | $(ratio "$bn" "$bd") | ≥ 0.9 |"
        echo "| new connections/s (one client, connect + reset) | $cd_ | $cn | $(ratio "$cn" "$cd_") | ≥ 0.9 |"
        echo
        echo "Failed connects over all rounds: $fails."
        echo
    } >>"$REPORT"
fi

if [[ " $PARTS " == *" flip "* ]]; then
    log "flip: stop/start the real server 10.77.0.11:5002 $ROUNDS times (tcp check 1s, fall 1, rise 1)"
    : >"$DIR/flip.tsv"
    wait_flips() { # wait_flips N: until .checks.flips_applied >= N (15 s)
        local i
        for i in $(seq 150); do
            [[ -z ${BENCH_DIRECTOR_DEBUG:-} ]] || services_json | cut -c1-400 >&2
            (($(services_json | jfield '["checks"]["flips_applied"]') >= $1)) && return 0
            sleep 0.1
        done
        return 1
    }
    n0=$(services_json | jfield '["checks"]["flips_applied"]')
    for ((r = 1; r <= ROUNDS; r++)); do
        kill "$VICTIM_PID"; wait "$VICTIM_PID" 2>/dev/null || true; VICTIM_PID=""
        n0=$((n0 + 1)); wait_flips "$n0" || { services_json >&2; tail -n 20 "$DLOG" >&2; die "round $r: the stopped server did not go down within 15 s"; }
        down=$(services_json | jfield '["checks"]["last_flip_ms"]')
        nft=$(tx | tail -n 1 | cut -d' ' -f1)
        gone=-
        ip netns exec "$RNS" "$NL" serve 10.77.0.11 5002 & VICTIM_PID=$!
        n0=$((n0 + 1)); wait_flips "$n0" || die "round $r: the restarted server did not come back within 15 s"
        up=$(services_json | jfield '["checks"]["last_flip_ms"]')
        printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$down" "$nft" "$up" "$gone" >>"$DIR/flip.tsv"
        log "  round $r: down ${down} ms (nft ${nft} ms), up ${up} ms"
    done
    {
        echo "### Check fails -> kernel updated"
        echo
        echo "Real server 10.77.0.11:5002 (tcp check, interval 1 s, timeout 500 ms, fall 1, rise 1) stopped and"
        echo "restarted $ROUNDS times. Latency = from the end of the check that flipped it to the end of the nft"
        echo "transaction that changed the kernel (\`services --json\` .checks.last_flip_ms); nft = the"
        echo "transaction alone (event 1802, libnftables in the nft worker). Detection itself (up to"
        echo "interval × fall) comes before this; the first round also pays the cold apply path."
        echo
        echo "| flip | median (ms) | max (ms) |"
        echo "|---|---|---|"
        echo "| down: check fails -> kernel updated | $(cut -f2 "$DIR/flip.tsv" | median) | $(cut -f2 "$DIR/flip.tsv" | sort -g | tail -n 1) |"
        echo "| of which the nft transaction | $(cut -f3 "$DIR/flip.tsv" | grep -v -- - | median) | $(cut -f3 "$DIR/flip.tsv" | grep -v -- - | sort -g | tail -n 1) |"
        echo "| up: check passes -> kernel updated | $(cut -f4 "$DIR/flip.tsv" | median) | $(cut -f4 "$DIR/flip.tsv" | sort -g | tail -n 1) |"
        echo
    } >>"$REPORT"
fi
[[ -z $DAEMON_PID ]] || daemon_stop

# ------------------------------------------------------------------ apply
if [[ " $PARTS " == *" apply "* ]]; then
    log "apply: full load and one-server change at $SIZES real servers"
    : >"$DIR/apply.tsv"
    for n in $SIZES; do
        servers=()
        for ((i = 0; i < n; i++)); do servers+=("10.77.$((1 + i / 250)).$((1 + i % 250)):8080"); done
        config "$DIR/apply-$n.yaml" "{kind: none}" "${servers[@]}"
        daemon_start "$DIR/apply-$n.yaml" "apply-$n"
        load=$(tx | head -n 1 | awk '{printf "%.1f", $1}')
        # a one-server change, ROUNDS drains and undrains of the first server
        : >"$DIR/change-$n.txt"
        for ((r = 1; r <= ROUNDS; r++)); do
            for verb in drain undrain; do
                ctl "$verb" web "${servers[0]}" >/dev/null || die "$verb failed at $n servers"
            done
        done
        sleep 0.5
        tx | tail -n +2 >"$DIR/change-$n.txt"
        change=$(cut -d' ' -f1 "$DIR/change-$n.txt" | median)
        change_rt=$(cut -d' ' -f2 "$DIR/change-$n.txt" | median)
        # the peer: the same ruleset, renamed, loaded by nft -f (a new process each time), 3 times
        dx nft list table inet appliance | sed '1s/^table inet appliance /table inet aplbenchpeer /' >"$DIR/peer-$n.nft"
        : >"$DIR/peer-$n.txt"
        for r in 1 2 3; do
            t0=$(date +%s%N)
            dx nft -f "$DIR/peer-$n.nft" || die "nft -f of the peer ruleset failed at $n servers"
            t1=$(date +%s%N)
            echo "$(((t1 - t0) / 1000)) " | awk '{printf "%.1f\n", $1 / 1000}' >>"$DIR/peer-$n.txt"
            dx nft delete table inet aplbenchpeer
        done
        peer=$(median <"$DIR/peer-$n.txt")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${load:--}" "$change" "$change_rt" "$(wc -l <"$DIR/change-$n.txt")" "$peer" >>"$DIR/apply.tsv"
        log "  $n servers: load ${load:-?} ms, change ${change} ms / ${change_rt} ms round trip (median of $(wc -l <"$DIR/change-$n.txt")), nft -f ${peer} ms"
        daemon_stop
    done
    {
        echo "### Ruleset apply latency"
        echo
        echo "rr, N real servers (one service per $SERVICE_SERVERS_MAX), no checks. Times of the daemon's nft transactions (event 1802:"
        echo "libnftables in its nft worker process; round trip = as the daemon waits for it, worker IPC"
        echo "included). Full load = the first transaction; change = drain or undrain of one server"
        echo "($((2 * ROUNDS)) changes). Peer = the very ruleset the daemon loaded (\`nft list table\`, renamed)"
        echo "loaded by \`nft -f\`, a new process each time (median of 3)."
        echo
        echo "| real servers | full load (ms) | peer \`nft -f\` (ms) | ratio daemon/peer | one-server change, median (ms) | change round trip (ms) | changes |"
        echo "|---|---|---|---|---|---|---|"
        while IFS=$'\t' read -r n load change rt k peer; do
            echo "| $n | $load | $peer | $(ratio "$load" "$peer") | $change | $rt | $k |"
        done <"$DIR/apply.tsv"
        echo
    } >>"$REPORT"
fi

log "done in $((SECONDS - T0)) s"
cat "$REPORT"
