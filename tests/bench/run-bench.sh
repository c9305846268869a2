#!/usr/bin/env bash
# tests/bench/run-bench.sh: the appliance benchmark (called by `make bench` with APPLIANCE_BIN).
#
#   1. detection latency  (cut all -> peer "dead", 20 runs at 20ms/100ms and at 200ms/1s)
#   2. idle cost          (CPU % and RSS of one daemon, vs Linux-HA heartbeat 3.0.6)
#   3. cadence under load (worst keepalive send gap with stress-ng + daemon heap churn)
#   3b. panel             (worst keepalive send gap: no panel, panel busy, dead LCD; tests/bench/panel.sh)
#   4. failover           (client-observed: power cut of the active, planned switchover, false
#                          failovers under load; vs keepalived VRRPv3 run by tests/bench/kapair)
#   5. fencing            (peer dead -> fence verified per device kind, client failover with fencing
#                          required; cluster-glue's stonith -t rps10 for comparison)
#   6. held               (a held connection through the director across a power cut of the active:
#                          worst stall per run, median; ours vs keepalived VRRP + conntrackd driven by
#                          conntrack-tools' primary-backup.sh, tests/bench/kactpair)
#   7. director           (real-server checks: CPU and lateness at 1000 targets vs a C floor,
#                          tests/bench/checks.sh; data path, check flip -> kernel, ruleset apply
#                          vs direct / nft -f, tests/bench/director.sh)
#   8. fast              (issue 13: power cut at the fastest timers vs keepalived advert_int 0.01, with
#                          relay fencing too; false failovers with every CPU saturated; idle CPU;
#                          tests/bench/fast.sh)
#
# Progress goes to stderr; the report to out/bench/report.md (also printed on stdout), the
# daemons' and heartbeat's logs to out/bench/logs/. Root only (network namespaces).
# Knobs (for quick trial runs; the defaults are the benchmark):
#   BENCH_RUNS=20  BENCH_IDLE_SECONDS=60  BENCH_LOAD_SECONDS=60  BENCH_POLL_MS=5
#   BENCH_FAILOVER_RUNS=20  BENCH_FALSE_SECONDS=60  BENCH_FAILOVER_CASES="cut switch false"
#   BENCH_HELD_RUNS=20
#   BENCH_SECTIONS="detect idle cadence panel failover fencing held director fast"  BENCH_PANEL_SECONDS
#   fast: BENCH_FAST_TIMERS=3ms/9ms  BENCH_FAST_FALSE_SECONDS=600  BENCH_FAST_IDLE_SECONDS=60 (tests/bench/fast.sh)
#   director: BENCH_CHECK_* (checks.sh) and BENCH_DIRECTOR_* (director.sh), see those scripts
set -euo pipefail
# The daemons the lab starts here offer the benchmark-only `churn` command (a production daemon does not).
export APPLIANCE_BENCH=1

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
REPO=$(cd "$HERE/../.." && pwd)
BIN=${APPLIANCE_BIN:-$REPO/out/bin}
LAB=$REPO/board/lab/lab
HBPAIR=$HERE/hbpair
KAPAIR=$HERE/kapair
OUT=$REPO/out/bench
REPORT=$OUT/report.md
RUNS=${BENCH_RUNS:-20}
IDLE_S=${BENCH_IDLE_SECONDS:-60}
LOAD_S=${BENCH_LOAD_SECONDS:-60}
POLL_MS=${BENCH_POLL_MS:-5}
FO_RUNS=${BENCH_FAILOVER_RUNS:-20}
FALSE_S=${BENCH_FALSE_SECONDS:-60}
FO_CASES=${BENCH_FAILOVER_CASES:-cut switch false}
SECTIONS=${BENCH_SECTIONS:-detect idle cadence panel failover fencing held director fast}
LABN="k$$"            # LAB_NAME: [a-z0-9]{1,8}, starts with k (bench labs), unique per run
HZ=$(getconf CLK_TCK)

T_START=$SECONDS
log() { printf '[bench %3ds] %s\n' "$((SECONDS - T_START))" "$*" >&2; }
die() { echo "run-bench: FAILED: $*" >&2; exit 1; }

# ------------------------------------------------------------------ preflight
(($(id -u) == 0)) || die "must run as root (network namespaces)"
for c in socat ip nft awk cc stress-ng timeout setsid; do
    command -v "$c" >/dev/null || die "'$c' not found (scripts/install-deps.sh bench)"
done
[[ " $SECTIONS " != *" idle "* ]] || [[ -x /usr/libexec/heartbeat/heartbeat ]] || die "Linux-HA heartbeat not installed (scripts/install-deps.sh bench)"
[[ -x $BIN/applianced && -x $BIN/appliancectl ]] || die "no applianced/appliancectl in $BIN (make bin)"
[[ -x $LAB ]] || die "no $LAB"

TMP=$(mktemp -d /tmp/appliance-bench.XXXXXX)
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/* "$REPORT"

# ------------------------------------------------------------------ cleanup
LAB_IS_UP=0
STRESS_PID=''
POLL_PID=''
HB_DIRS=()
KA_DIRS=()
KACT_DIRS=()
FC_PID=''
cleanup() {
    local rc=$? d
    trap - EXIT INT TERM HUP
    if [[ -n $POLL_PID ]]; then kill -TERM "$POLL_PID" 2>/dev/null || true; fi
    if [[ -n $STRESS_PID ]] && [[ -d /proc/$STRESS_PID ]]; then
        # stress-ng was started with setsid: its PID is its process group (parent + workers).
        kill -TERM -- "-$STRESS_PID" 2>/dev/null || true
        sleep 0.5
        kill -KILL -- "-$STRESS_PID" 2>/dev/null || true
    fi
    if [[ -n $FC_PID ]]; then kill -TERM "$FC_PID" 2>/dev/null || true; fi
    for d in "${HB_DIRS[@]}"; do "$HBPAIR" down "$d" >/dev/null 2>&1 || true; done
    for d in "${KA_DIRS[@]}"; do "$KAPAIR" down "$d" >/dev/null 2>&1 || true; done
    for d in "${KACT_DIRS[@]}"; do "$KACT" down "$d" >/dev/null 2>&1 || true; done
    if ((LAB_IS_UP)) || [[ -e /run/netns/apl-$LABN-alpha ]]; then
        LAB_NAME=$LABN APPLIANCE_BIN=$BIN timeout 60 "$LAB" down >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    if ((rc != 0)); then echo "run-bench: exit $rc after $((SECONDS - T_START)) s (everything started was stopped)" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ------------------------------------------------------------------ helpers
cc -O2 -Wall -o "$TMP/benchtool" "$HERE/benchtool.c" || die "cannot compile benchtool.c"
BT=$TMP/benchtool
cc -O2 -Wall -o "$TMP/failclient" "$HERE/failclient.c" || die "cannot compile failclient.c"
FC=$TMP/failclient

labc() { LAB_NAME=$LABN APPLIANCE_BIN=$BIN timeout 60 "$LAB" "$@"; }

now_ns() { date +%s%N; }

# lab_up ARGS...: bring the lab up, load its env, wait (15 s) until both peers see each other.
lab_up() {
    log "lab up $*"
    labc up "$@" >"$TMP/up.out" 2>&1 || { cat "$TMP/up.out" >&2; die "lab up $* failed (see above)"; }
    LAB_IS_UP=1
    eval "$(labc env)"
    "$BT" wait "$(now_ns)" 15000 20 up "$CONTROL_alpha" "$CONTROL_beta" >/dev/null \
        || { tail -n 20 "$LOG_alpha" "$LOG_beta" >&2; die "the peers did not see each other within 15 s of lab up $*"; }
}

# lab_down TAG: keep the daemons' logs as out/bench/logs/TAG-NODE.log, then tear down.
lab_down() {
    cp "$LOG_alpha" "$OUT/logs/$1-alpha.log" 2>/dev/null || true
    cp "$LOG_beta" "$OUT/logs/$1-beta.log" 2>/dev/null || true
    labc down >/dev/null || die "lab down failed"
    LAB_IS_UP=0
}

status_of() { "$BT" query "$1" '{"cmd":"status"}' 2000 || die "no status answer from $1"; }

# Integer field NAME (first occurrence) from a compact JSON line.
json_num() { local v; v=$(grep -o "\"$2\":-\?[0-9]*" <<<"$1" | head -n 1); echo "${v##*:}"; }

# Both links of the node at SOCK are up (not merely the peer).
links_up() {
    local j l
    j=$("$BT" query "$1" '{"cmd":"status"}' 1000) || return 1
    l=${j#*\"links\":}
    l=${l%%]*}
    [[ $l == *'"state":"up"'* && $l != *'"state":"down"'* && $l != *'"state":"unknown"'* && $l != *'"state":"warn"'* ]]
}

wait_links_up() {
    local end=$((SECONDS + 10))
    until links_up "$CONTROL_alpha" && links_up "$CONTROL_beta"; do
        ((SECONDS < end)) || die "links not all up 10 s after heal"
        sleep 0.05
    done
}

# Lines in FILE (0 if missing).
nlines() { if [[ -e $1 ]]; then wc -l <"$1"; else echo 0; fi; }

# count_after FILE FROM_LINE REGEX: matching lines after line FROM_LINE.
count_after() { tail -n "+$(($2 + 1))" "$1" | grep -cE "$3" || true; }

# stats FILE COLUMN -> "n median min max" (numeric column, '-' if no data)
stats() {
    awk -v c="$2" '$c != "" && $c != "-" {print $c}' "$1" | sort -g | awk '
        {v[NR] = $1}
        END {
            if (NR == 0) { print "0 - - -"; exit }
            if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%d %.1f %.1f %.1f\n", NR, m, v[1], v[NR]
        }'
}

# cpu_ticks PID: utime+stime+cutime+cstime (clock ticks) from /proc/PID/stat.
cpu_ticks() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -; return; }
    s=${s##*) }
    # fields after "comm)": state=3 ... utime=14 stime=15 cutime=16 cstime=17 (1-based overall)
    awk '{print $12 + $13 + $14 + $15}' <<<"$s"
}
kb_field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/${3:-status}" 2>/dev/null || true; }

# ------------------------------------------------------------------ report pieces
R_DETECT=$TMP/r-detect.md
R_IDLE=$TMP/r-idle.md
R_CAD=$TMP/r-cadence.md
R_FO=$TMP/r-failover.md
R_FE=$TMP/r-fencing.md
R_HELD=$TMP/r-held.md
R_DIR=$TMP/r-director.md
: >"$R_DETECT"; : >"$R_IDLE"; : >"$R_CAD"; : >"$R_FO"; : >"$R_FE"; : >"$R_HELD"; : >"$R_DIR"

# ================================================================== 1. detection latency
# detect_config K D: RUNS cuts at keepalive K ms / deadtime D ms. Appends rows to $TMP/detect.tsv:
# config node run detect_ms detect_minus_dead_ms from_cut_return_ms daemon_silence_ms cut_ms
detect_config() {
    local k=$1 d=$2 cfg="${1}ms/${2}ms" i la lb t0 t1 res a b sa sb cutms
    if [[ $k == 200 && $d == 1000 ]]; then lab_up; else lab_up --keepalive "${k}ms" --deadtime "${d}ms"; fi
    local dl
    dl=$(json_num "$(status_of "$CONTROL_alpha")" deadtime_ms)
    [[ $dl == "$d" ]] || die "alpha reports deadtime ${dl}ms, expected ${d}ms"
    wait_links_up
    for ((i = 1; i <= RUNS; i++)); do
        # settle, plus a random phase within one keepalive so the cut lands anywhere in the cycle
        sleep "$(awk -v r=$RANDOM -v k="$k" 'BEGIN {printf "%.3f", 0.3 + r / 32768 * k / 1000}')"
        la=$(nlines "$LOG_alpha"); lb=$(nlines "$LOG_beta")
        t0=$(now_ns)
        "$BT" wait "$t0" $((d * 5 + 5000)) "$POLL_MS" dead "$CONTROL_alpha" "$CONTROL_beta" >"$TMP/wait.out" &
        POLL_PID=$!
        labc cut all || die "lab cut all failed"
        t1=$(now_ns)
        if ! wait "$POLL_PID"; then
            POLL_PID=''
            cat "$TMP/wait.out" >&2
            die "run $i at $cfg: a peer was not declared dead within $((d * 5 + 5000)) ms of the cut"
        fi
        POLL_PID=''
        a=$(sed -n 1p "$TMP/wait.out" | awk '{print $1}')
        b=$(sed -n 2p "$TMP/wait.out" | awk '{print $1}')
        cutms=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')
        # the daemons' own figure: first "peer X dead: silent for Nms" after the cut
        sa=$(tail -n "+$((la + 1))" "$LOG_alpha" | grep -m1 -oE 'peer beta dead: silent for [0-9]+ms' | grep -oE '[0-9]+ms' | tr -d ms || true)
        sb=$(tail -n "+$((lb + 1))" "$LOG_beta" | grep -m1 -oE 'peer alpha dead: silent for [0-9]+ms' | grep -oE '[0-9]+ms' | tr -d ms || true)
        awk -v cfg="$cfg" -v i="$i" -v a="$a" -v b="$b" -v d="$d" -v c="$cutms" -v sa="${sa:--}" -v sb="${sb:--}" 'BEGIN {
            printf "%s\talpha\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\n", cfg, i, a, a - d, a - c, sa, c
            printf "%s\tbeta\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\n", cfg, i, b, b - d, b - c, sb, c
        }' >>"$TMP/detect.tsv"
        labc heal all || die "lab heal all failed"
        "$BT" wait "$(now_ns)" 10000 "$POLL_MS" up "$CONTROL_alpha" "$CONTROL_beta" >/dev/null \
            || die "run $i at $cfg: the peers did not come back up within 10 s of heal"
        wait_links_up
        log "  $cfg run $i/$RUNS: alpha ${a}ms beta ${b}ms (daemon: ${sa:-?}/${sb:-?}ms silent; cut took ${cutms}ms)"
    done
    lab_down "detect-${k}ms"
}

section_detect() {
    log "1. detection latency: $RUNS runs at 20ms/100ms and 200ms/1s, polling every ${POLL_MS}ms"
    : >"$TMP/detect.tsv"
    detect_config 20 100
    detect_config 200 1000
    cp "$TMP/detect.tsv" "$OUT/detect-samples.tsv"
    {
        echo "## 1. Detection latency"
        echo
        echo "$RUNS runs per timer set. Per run: \`t0 = date +%s%N\`, then a poller (tests/bench/benchtool.c, one"
        echo "connection per query, no process spawn) starts querying \`{\"cmd\":\"status\"}\` on both control"
        echo "sockets every ${POLL_MS} ms, then \`lab cut all\` (serial: SIGSTOP the socat cable; UDP: nft drop rule in"
        echo "alpha, then in beta). Detection = time from t0 until the node's answer first shows"
        echo "\`.peer.state == \"dead\"\`. Then \`heal all\`, wait until both peers and all links are \`up\`,"
        echo "0.3 s + a random fraction of one keepalive, next run. \"daemon\" = the \`silent for Nms\` figure of"
        echo "the node's own \`peer X dead\` log line. All figures in ms."
        echo
        echo "| timers (keepalive/deadtime) | node (detecting) | detection median | detection max | detection − deadtime: median | min | max | daemon \"silent for\": median | max | \`lab cut all\` duration: median | max |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|"
        local cfg node
        for cfg in 20ms/100ms 200ms/1000ms; do
            for node in alpha beta; do
                awk -F'\t' -v c="$cfg" -v n="$node" '$1 == c && $2 == n' "$TMP/detect.tsv" >"$TMP/sel.tsv"
                read -r _ dmed _ dmax < <(stats "$TMP/sel.tsv" 4)
                read -r _ emed emin emax < <(stats "$TMP/sel.tsv" 5)
                read -r _ smed _ smax < <(stats "$TMP/sel.tsv" 7)
                read -r _ cmed _ cmax < <(stats "$TMP/sel.tsv" 8)
                echo "| $cfg | $node | $dmed | $dmax | $emed | $emin | $emax | $smed | $smax | $cmed | $cmax |"
            done
        done
        echo
        echo "Detection measured from when \`lab cut all\` returned instead of from t0 (subtracts the cut's"
        echo "own duration; a lower bound of the true figure):"
        echo
        echo "| timers | node | median | min | max |"
        echo "|---|---|---|---|---|"
        for cfg in 20ms/100ms 200ms/1000ms; do
            for node in alpha beta; do
                awk -F'\t' -v c="$cfg" -v n="$node" '$1 == c && $2 == n' "$TMP/detect.tsv" >"$TMP/sel.tsv"
                read -r _ fmed fmin fmax < <(stats "$TMP/sel.tsv" 6)
                echo "| $cfg | $node | $fmed | $fmin | $fmax |"
            done
        done
        echo
        echo "How to read \"detection − deadtime\": the peer's last frame may have left up to one keepalive"
        echo "before the cut, so at the cut the peer has already been silent for between 0 and one keepalive,"
        echo "and an ideal detector declares it dead between deadtime − keepalive and deadtime after the cut:"
        echo "**detection − deadtime ∈ [−keepalive, +…]**. The \"+…\" part is the sum of: the daemon's check"
        echo "granularity (its own \`silent for\` figure minus deadtime), the poll interval (≤ ${POLL_MS} ms plus a"
        echo "query's round trip), and the cut itself: \`lab cut all\` is a bash script that stops socat and then"
        echo "runs \`ip netns exec … nft\` twice, so the UDP link keeps carrying frames until the rule lands"
        echo "(the last column): frames that get through while the cut is still being applied restart the"
        echo "silence clock, so detection measured from t0 can exceed deadtime by up to the cut duration."
        echo "The daemon's \"silent for\" figure is the silence it had observed when it declared the peer dead"
        echo "(≥ deadtime by construction; the excess is its check latency). Raw samples:"
        echo "out/bench/detect-samples.tsv (config, node, run, detection, −deadtime, from cut return, daemon, cut)."
        echo
    } >"$R_DETECT"
}

# ================================================================== 2. idle cost
# measure_pids TAG SECONDS PID...: CPU over the window and memory at its end, summed over the PIDs
# that lived through the whole window. Prints "cpu_pct rss_kb pss_kb nproc".
measure_pids() {
    local secs=$1 pid; shift
    local -A t0=()
    local w0 w1 ticks=0 rss=0 pss=0 n=0 a b
    for pid in "$@"; do t0[$pid]=$(cpu_ticks "$pid"); done
    w0=$(now_ns)
    sleep "$secs"
    w1=$(now_ns)
    for pid in "$@"; do
        a=${t0[$pid]}; b=$(cpu_ticks "$pid")
        [[ $a != - && $b != - ]] || continue
        ticks=$((ticks + b - a))
        rss=$((rss + $(kb_field "$pid" VmRSS)))
        pss=$((pss + $(kb_field "$pid" Pss smaps_rollup)))
        n=$((n + 1))
    done
    awk -v t="$ticks" -v hz="$HZ" -v w0="$w0" -v w1="$w1" -v r="$rss" -v p="$pss" -v n="$n" \
        'BEGIN {printf "%.3f %d %d %d\n", t / hz / ((w1 - w0) / 1e9) * 100, r, p, n}'
}

idle_appliance() {
    local k=$1 pid res thr
    if ((k == 200)); then lab_up; else lab_up --keepalive "${k}ms"; fi
    sleep 5      # past start-up (JIT, initial handshakes)
    pid=$(cat "$LAB_DIR/alpha.pid")
    # The node is the daemon and its heartbeat worker process (applianced --heartbeat-worker).
    local pids=("$pid") p
    for p in $(ip netns pids "$NS_alpha"); do
        [[ $p != "$pid" && $(cat "/proc/$p/comm" 2>/dev/null) == applianced ]] && pids+=("$p")
    done
    thr=0
    for p in "${pids[@]}"; do thr=$((thr + $(kb_field "$p" Threads))); done
    log "  applianced alpha (pids ${pids[*]}, $thr threads) at keepalive ${k}ms: measuring ${IDLE_S}s"
    local la lb
    "$BT" query "$CONTROL_alpha" '{"cmd":"reset-cadence"}' >/dev/null || die "reset-cadence failed"
    la=$(nlines "$LOG_alpha"); lb=$(nlines "$LOG_beta")
    res=$(measure_pids "$IDLE_S" "${pids[@]}")
    local j; j=$(status_of "$CONTROL_alpha")
    local ev; ev=$(( $(count_after "$LOG_alpha" "$la" 'peer beta (late|dead)') + $(count_after "$LOG_beta" "$lb" 'peer alpha (late|dead)') ))
    echo "applianced|${k}ms/$((5 * k))ms|$res|$thr threads|$(json_num "$j" worst_send_gap_us)|$ev" >>"$TMP/idle.txt"
    log "  -> $res (cpu% rss_kB pss_kB procs)"
    lab_down "idle-${k}ms"
}

# hb_start K D -> sets HB_DIR; waits until nodea has seen nodeb active (or returns 1).
hb_start() {
    HB_DIR=$(mktemp -d "$TMP/hb.XXXX")
    HB_DIRS+=("$HB_DIR")
    "$HBPAIR" up "$HB_DIR" "$1" "$2" || die "hbpair up $1 $2 failed"
}

# hb_verdict DIR: accepted|refused|unknown from nodea's log (waits up to 5 s).
hb_verdict() {
    local end=$((SECONDS + 5))
    while ((SECONDS <= end)); do
        if grep -qs 'Configuration validated' "$1/a/ha-log"; then echo accepted; return; fi
        if grep -qsi 'configuration error' "$1/a/ha-log" "$1/a/stdout"; then echo refused; return; fi
        sleep 0.2
    done
    echo unknown
}

hb_stop() {
    local d=$1 tag=$2
    cp "$d/a/ha-log" "$OUT/logs/heartbeat-$tag-nodea.log" 2>/dev/null || true
    cp "$d/b/ha-log" "$OUT/logs/heartbeat-$tag-nodeb.log" 2>/dev/null || true
    "$HBPAIR" down "$d" || true
    local x=() e
    for e in "${HB_DIRS[@]}"; do [[ $e == "$d" ]] || x+=("$e"); done
    HB_DIRS=("${x[@]}")
    rm -rf "$d"
}

hb_probe() {
    log "  heartbeat: probing the lowest keepalive it accepts (deadtime = 5 x keepalive)"
    : >"$TMP/hbprobe.txt"
    local k v late dead delayed
    for k in 0 1 2 5 10 20; do
        hb_start "$k" $((5 * k))
        v=$(hb_verdict "$HB_DIR")
        late=-; dead=-; delayed=-
        if [[ $v == accepted ]]; then
            sleep 5
            late=$(cat "$HB_DIR"/a/ha-log "$HB_DIR"/b/ha-log | grep -c 'Late heartbeat' || true)
            dead=$(cat "$HB_DIR"/a/ha-log "$HB_DIR"/b/ha-log | grep -cE 'node node[ab]: is dead' || true)
            delayed=$(cat "$HB_DIR"/a/ha-log "$HB_DIR"/b/ha-log | grep -c 'was delayed' || true)
        fi
        echo "$k $v $late $dead $delayed" >>"$TMP/hbprobe.txt"
        log "    keepalive ${k}ms: $v; late heartbeats $late, nodes declared dead $dead, dispatch-delay warnings $delayed (both nodes, ~5 s)"
        hb_stop "$HB_DIR" "probe-${k}ms"
    done
}

idle_heartbeat() {
    local k=$1 pids res ev
    hb_start "$k" $((5 * k))
    [[ $(hb_verdict "$HB_DIR") == accepted ]] || die "heartbeat refused keepalive ${k}ms (see $HB_DIR/a/ha-log)"
    local end=$((SECONDS + 20))
    until grep -qs 'Status update for node nodeb: status active' "$HB_DIR/a/ha-log"; do
        ((SECONDS < end)) || die "heartbeat nodea did not see nodeb active within 20 s (keepalive ${k}ms)"
        sleep 0.2
    done
    sleep 5
    mapfile -t pids < <("$HBPAIR" pids "$HB_DIR" a)
    ((${#pids[@]} > 0)) || die "no heartbeat processes in nodea's namespace"
    local names=''
    local p; for p in "${pids[@]}"; do names+="$(tr '\0' ' ' <"/proc/$p/cmdline" | sed 's/^heartbeat: //; s/ *$//'); "; done
    log "  heartbeat nodea (${#pids[@]} processes: ${names%; }) at keepalive ${k}ms: measuring ${IDLE_S}s"
    local la lb
    la=$(nlines "$HB_DIR/a/ha-log"); lb=$(nlines "$HB_DIR/b/ha-log")
    res=$(measure_pids "$IDLE_S" "${pids[@]}")
    ev=$(( $(count_after "$HB_DIR/a/ha-log" "$la" 'Late heartbeat|is dead') + $(count_after "$HB_DIR/b/ha-log" "$lb" 'Late heartbeat|is dead') ))
    echo "heartbeat 3.0.6|${k}ms/$((5 * k))ms|$res|${#pids[@]} processes|-|$ev" >>"$TMP/idle.txt"
    echo "${names%; }" >"$TMP/hbnames.txt"
    log "  -> $res (cpu% rss_kB pss_kB procs)"
    hb_stop "$HB_DIR" "idle-${k}ms"
}

section_idle() {
    log "2. idle cost: ${IDLE_S}s windows"
    : >"$TMP/idle.txt"
    idle_appliance 20
    idle_appliance 200
    hb_probe
    # heartbeat's comparable figure: 20 ms if it behaved there, else the lowest well-behaved value
    local hbk=20 lowest_acc lowest_ok
    lowest_acc=$(awk '$2 == "accepted" {print $1; exit}' "$TMP/hbprobe.txt")
    lowest_ok=$(awk '$2 == "accepted" && $3 == 0 && $4 == 0 {print $1; exit}' "$TMP/hbprobe.txt")
    if ! awk '$1 == 20 && $2 == "accepted" && $3 == 0 && $4 == 0 {f = 1} END {exit !f}' "$TMP/hbprobe.txt"; then
        [[ -n $lowest_ok ]] && ((lowest_ok > 20)) && hbk=$lowest_ok
    fi
    idle_heartbeat "$hbk"
    idle_heartbeat 200
    {
        echo "## 2. Idle cost"
        echo
        echo "Both peers up, nothing else happening, ${IDLE_S} s window starting 5 s after the pair is up."
        echo "CPU = Δ(utime+stime+cutime+cstime) from /proc/PID/stat (clock ticks, ${HZ}/s) over the window ÷ wall"
        echo "time, in % of one core. RSS = VmRSS (/proc/PID/status) at the end of the window; PSS = Pss"
        echo "(/proc/PID/smaps_rollup), which splits each shared page between the processes mapping it."
        echo "Both nodes of a pair run on this machine from the same binaries, so PSS also splits the pages"
        echo "shared with the *other* node (runtime/libraries): on a real board, one node's footprint lies"
        echo "between the PSS and the RSS figure. Machine: $(nproc) CPUs. \"worst send gap\" = alpha's"
        echo "\`.heartbeat.worst_send_gap_us\` over the window (\`reset-cadence\` at its start)."
        echo
        echo "| daemon | timers (keepalive/deadtime) | CPU % of one core | RSS (kB) | PSS (kB) | processes counted | what | worst send gap (µs) | late/dead events in window (both nodes) |"
        echo "|---|---|---|---|---|---|---|---|---|"
        local name timers res what gap ev cpu rss pss n
        while IFS='|' read -r name timers res what gap ev; do
            read -r cpu rss pss n <<<"$res"
            echo "| $name | $timers | $cpu | $rss | $pss | $n | $what | $gap | $ev |"
        done <"$TMP/idle.txt"
        echo
        echo "How it was counted:"
        echo
        echo "- **applianced**: the two processes of node alpha: the daemon (\`\$LAB_DIR/alpha.pid\`) and its"
        echo "  heartbeat worker (\`applianced --heartbeat-worker\`), CPU and memory summed (all threads are in"
        echo "  each process's utime/stime). The lab's socat cable is not counted (nor is heartbeat's)."
        echo "- **heartbeat**: Linux-HA heartbeat 3.0.6 (Debian \`heartbeat\` $(dpkg-query -W -f='${Version}' heartbeat 2>/dev/null)) run as a pair nodea/nodeb by"
        echo "  tests/bench/hbpair: two network namespaces joined by a veth pair, each node in a private mount +"
        echo "  UTS namespace (own /etc/ha.d, /var/lib/heartbeat, /run, hostname) started with \`heartbeat -f -l\`;"
        echo "  media = the same two as the appliance lab: \`serial\` over a socat pty pair (115200 baud) and"
        echo "  \`ucast eth0\` (udp 694); \`auth 1 sha1\`, empty haresources, warntime = (keepalive+deadtime)/2,"
        echo "  no logd (logfile). Counted: every process in nodea's namespace (\`ip netns pids\`) whose comm is"
        echo "  \`heartbeat\`: $(cat "$TMP/hbnames.txt" 2>/dev/null). RSS and PSS are summed over them"
        echo "  (RSS double-counts pages the forked children share with the master; PSS does not). Their"
        echo "  cutime/cstime covers the short-lived helpers (harc, ResourceManager) the master forks and reaps."
        echo "  heartbeat logged \"Cannot lock ourselves into memory\" (ulimit -l $(ulimit -l)), so it ran without mlock."
        echo
        echo "heartbeat's lowest keepalive (pair started with deadtime = 5 × keepalive, observed ~5 s):"
        echo
        echo "| keepalive | verdict | \"Late heartbeat\" lines | \"node … is dead\" | dispatch-delay warnings |"
        echo "|---|---|---|---|---|"
        local k v l d dl
        while read -r k v l d dl; do echo "| ${k}ms | $v | $l | $d | $dl |"; done <"$TMP/hbprobe.txt"
        echo
        echo "Lowest keepalive heartbeat accepts: **${lowest_acc:-none}ms** (it rejects \`keepalive 0ms\`: \"configuration error\"; values"
        echo "are rounded to whole ms and deadtime must exceed 2 × keepalive). Lowest where it behaved (no late"
        echo "heartbeat, no node declared dead in the probe): **${lowest_ok:-none}ms**. Its log reports late intervals"
        echo "and dispatch delays in multiples of 10 ms (\"interval 10 ms\", \"delayed 10 ms\"), which suggests a 10 ms"
        echo "timer granularity: below ~10 ms it does not keep its own keepalive and declares nodes dead. It was measured at ${hbk}ms and 200ms."
        echo
    } >"$R_IDLE"
}

# ================================================================== 3. cadence under load
# cadence_window TAG LOADED: one window of LOAD_S seconds; appends a row to $TMP/cadence.txt
cadence_window() {
    local tag=$1 loaded=$2 la lb j gap wake bdead blate adead alate stall churn_ok=-
    "$BT" query "$CONTROL_alpha" '{"cmd":"reset-cadence"}' >/dev/null || die "reset-cadence failed"
    la=$(nlines "$LOG_alpha"); lb=$(nlines "$LOG_beta")
    if ((loaded)); then
        setsid stress-ng --cpu 1 --timeout "${LOAD_S}s" --quiet </dev/null >"$TMP/stress.log" 2>&1 &
        STRESS_PID=$!
        "$BT" query "$CONTROL_alpha" "{\"cmd\":\"churn\",\"seconds\":$LOAD_S}" >"$TMP/churn.out" \
            || die "churn command failed"
        churn_ok=$(cat "$TMP/churn.out")
        log "  loaded window: stress-ng --cpu 1 (pid $STRESS_PID) + churn $LOAD_S s on alpha ($churn_ok)"
    else
        log "  baseline window: no load, $LOAD_S s"
    fi
    sleep "$LOAD_S"
    if ((loaded)); then
        local end=$((SECONDS + 10))
        while [[ -d /proc/$STRESS_PID ]] && [[ $(awk '{print $3}' "/proc/$STRESS_PID/stat" 2>/dev/null) != Z ]]; do
            ((SECONDS < end)) || die "stress-ng did not end 10 s after its timeout"
            sleep 0.2
        done
        wait "$STRESS_PID" 2>/dev/null || true
        STRESS_PID=''
        sleep 1     # let the churn finish too
    fi
    j=$(status_of "$CONTROL_alpha")
    gap=$(json_num "$j" worst_send_gap_us)
    wake=$(json_num "$j" worst_wake_delay_us)
    bdead=$(count_after "$LOG_beta" "$lb" 'peer alpha dead')
    blate=$(count_after "$LOG_beta" "$lb" 'peer alpha late')
    adead=$(count_after "$LOG_alpha" "$la" 'peer beta dead')
    alate=$(count_after "$LOG_alpha" "$la" 'peer beta late')
    stall=$(count_after "$LOG_alpha" "$la" 'STALL GUARD')
    echo "$tag|$gap|$wake|$bdead|$blate|$stall|$adead|$alate" >>"$TMP/cadence.txt"
    log "  -> worst send gap ${gap}us, worst wake delay ${wake}us; beta: alpha dead $bdead, late $blate; alpha stall guard $stall"
}

section_cadence() {
    log "3. cadence: keepalive 20ms / deadtime 100ms, ${LOAD_S}s windows"
    : >"$TMP/cadence.txt"
    lab_up --keepalive 20ms --deadtime 100ms
    sleep 3
    cadence_window "no load (baseline)" 0
    cadence_window "stress-ng --cpu 1 + churn ${LOAD_S}s on alpha" 1
    lab_down cadence
    {
        echo "## 3. Cadence under load"
        echo
        echo "Lab at keepalive 20ms / deadtime 100ms (warntime 60ms). Per window: \`reset-cadence\` on alpha,"
        echo "${LOAD_S} s, then alpha's \`.heartbeat.worst_send_gap_us\` (longest interval between two consecutive"
        echo "keepalive sends) and \`.heartbeat.worst_wake_delay_us\`. Load = \`stress-ng --cpu 1 --timeout ${LOAD_S}s\`"
        echo "(one of the $(nproc) CPUs saturated) plus \`{\"cmd\":\"churn\",\"seconds\":${LOAD_S}}\` on alpha (garbage"
        echo "allocated on its own thread pool: heap churn and GCs). Events are counted from the logs over"
        echo "the window. Limit: worst gap ≤ 2 × keepalive = 40 ms (40000 µs)."
        echo
        echo "| window | alpha worst send gap (µs) | vs 40 ms limit | alpha worst wake delay (µs) | beta: \"peer alpha dead\" | beta: \"peer alpha late\" (warn) | alpha: STALL GUARD | alpha: \"peer beta dead\" / late |"
        echo "|---|---|---|---|---|---|---|---|"
        local tag gap wake bd bl st ad al verdict
        while IFS='|' read -r tag gap wake bd bl st ad al; do
            verdict=$(awk -v g="$gap" 'BEGIN {if (g == "") print "?"; else if (g <= 40000) printf "within (%.1f ms)", g / 1000; else printf "**EXCEEDED** (%.1f ms = %.1f × keepalive)", g / 1000, g / 20000}')
            echo "| $tag | $gap | $verdict | $wake | $bd | $bl | $st | $ad / $al |"
        done <"$TMP/cadence.txt"
        echo
    } >"$R_CAD"
}

# ================================================================== 3b. panel
# shellcheck source=panel.sh
. "$HERE/panel.sh"

# ================================================================== 4. failover
# (defined in failover.sh next to this script: sourced, shares this script's helpers and traps)
# shellcheck source=failover.sh
. "$HERE/failover.sh"

# ================================================================== 5. fencing
# shellcheck source=fencing.sh
. "$HERE/fencing.sh"

# ================================================================== 6. held
# shellcheck source=held.sh
. "$HERE/held.sh"

# ================================================================== fast (issue 13)
# (fast.sh: failover at the fastest timers vs keepalived's floor, false failovers with every CPU busy)
# shellcheck source=fast.sh
. "$HERE/fast.sh"

# ================================================================== 7. director
# Two scripts of their own (namespaces and daemons of their own, cleaned up by their own traps).
section_director() {
    log "7. director: checks at ${BENCH_CHECK_SERVERS:-1000} targets (loopback and veth), then data path, flips and apply"
    local net
    {
        echo "## 7. Director"
        echo
        echo "### Real-server checks (tests/bench/checks.sh)"
        echo
        echo "One daemon, one service with ${BENCH_CHECK_SERVERS:-1000} real servers, a tcp check each at ${BENCH_CHECK_INTERVAL:-1s}"
        echo "(timeout 500 ms), ${BENCH_CHECK_SECONDS:-20} s window after 3 s of warm-up. Daemon CPU = utime+stime of the daemon"
        echo "process (/proc); \"of which checks\" = minus the same daemon with \`check: {kind: none}\`. Floor ="
        echo "tests/bench/checkfloor.c making the same connections at the same rate in C, in the same namespace"
        echo "with the same ruleset, its own CPU (getrusage): what any checker pays here. loopback: the real"
        echo "servers' address is local, so the kernel charges the checker for both ends of every handshake;"
        echo "veth: the real servers behind a veth whose receive side runs on the other CPU (RPS), the daemon"
        echo "and the floor pinned to CPU 0, as a checker on a real network is charged. Worst lateness: the"
        echo "most any check started after its due time, start-up included (goal: under one interval)."
        echo
    } >"$R_DIR"
    for net in loopback veth; do
        BENCH_CHECK_NET=$net "$HERE/checks.sh" >"$TMP/checks-$net.md" 2>"$OUT/logs/checks-$net.log" \
            || { tail -n 20 "$OUT/logs/checks-$net.log" >&2; die "checks.sh ($net) failed"; }
        cat "$TMP/checks-$net.md" >>"$R_DIR"
        echo >>"$R_DIR"
        log "  checks ($net): $(grep -E '^\| (tcp|floor)' "$TMP/checks-$net.md" | tr '\n' ' ')"
    done
    "$HERE/director.sh" >"$TMP/director.md" 2>"$OUT/logs/director.log" \
        || { tail -n 20 "$OUT/logs/director.log" >&2; die "director.sh failed"; }
    cat "$TMP/director.md" >>"$R_DIR"
}

# ================================================================== main
log "appliance benchmark: lab $LABN, binaries $BIN, report $REPORT"
for s in $SECTIONS; do
    case "$s" in
        detect) section_detect ;;
        idle) section_idle ;;
        cadence) section_cadence ;;
        panel) section_panel ;;
        failover) section_failover ;;
        fencing) section_fencing ;;
        held) section_held ;;
        director) section_director ;;
        fast) section_fast ;;
        *) die "unknown section '$s' (detect idle cadence panel failover fencing held director fast)" ;;
    esac
done

ELAPSED=$((SECONDS - T_START))
{
    echo "# Appliance benchmark"
    echo
    echo "$(date -u '+%F %T UTC'); $(uname -sr); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo));"
    echo "daemon $BIN/applianced (tree $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')); run time ${ELAPSED} s."
    echo
    cat "$R_DETECT" "$R_IDLE" "$R_CAD" "$R_PANEL" "$R_FO" "$R_FE" "$R_HELD" "$R_DIR" "$R_FAST"
    echo "Logs of every lab, heartbeat and keepalived pair: out/bench/logs/."
} >"$REPORT"
log "done in ${ELAPSED} s; report: $REPORT"
cat "$REPORT"
