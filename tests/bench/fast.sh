# tests/bench/fast.sh: section "fast" of run-bench.sh (sourced by it, after failover.sh and
# fencing.sh, whose helpers it uses). Failover at the fastest timers against keepalived's floor, all
# in one run: a power cut of the active (fencing off, and fencing required through the relay),
# keepalived VRRPv3 at advert_int 0.01 cut the same way, false failovers with every CPU saturated,
# and the idle CPU of a node at those timers.
#   FAST_TIMERS (BENCH_FAST_TIMERS, "3ms/9ms"): cluster keepalive/deadtime measured
#   FAST_FALSE_S (BENCH_FAST_FALSE_SECONDS, 600): each false-failover window under full load
#   FAST_IDLE_S (BENCH_FAST_IDLE_SECONDS, 60): each idle window
#   FAST_BAUD (BENCH_FAST_BAUD, 460800): the serial cable's baud rate, fast enough to carry a frame
#     every keepalive (at 115200 the serial link runs at a multiple of the cadence, and a cut of all
#     links is found only after its longer deadtime)
#   FO_RUNS (BENCH_FAILOVER_RUNS, 20) runs per cut case.
#   FAST_CASES (BENCH_FAST_CASES, all: "host cut cut-sync-off cut-keepalived relay idle false"):
#     the cases to run, for trials; the benchmark is all of them in one run.
# shellcheck shell=bash

FAST_TIMERS=${BENCH_FAST_TIMERS:-3ms/9ms}
FAST_FALSE_S=${BENCH_FAST_FALSE_SECONDS:-600}
FAST_IDLE_S=${BENCH_FAST_IDLE_SECONDS:-60}
FAST_BAUD=${BENCH_FAST_BAUD:-460800}
FAST_CASES=${BENCH_FAST_CASES:-host cut cut-sync-off cut-keepalived relay idle false}
R_FAST=$TMP/r-fast.md
: >"$R_FAST"

# fast_case NAME: NAME is one of the cases to run (BENCH_FAST_CASES; a trial runs a few, the report
# then shows "-" for the others).
fast_case() { [[ " $FAST_CASES " == *" $1 "* ]]; }

# cpu_line: the host's steal ticks (/proc/stat "cpu" line, field 9) and all ticks, summed over CPUs.
cpu_line() { awk '$1 == "cpu" {s = 0; for (i = 2; i <= NF; i++) s += $i; print $9, s; exit}' /proc/stat; }

# fast_load SECONDS: stress-ng on every CPU (sets STRESS_PID).
fast_load() {
    setsid stress-ng --cpu 0 --timeout "${1}s" --quiet </dev/null >"$TMP/stress.log" 2>&1 &
    STRESS_PID=$!
}

# fast_false K D: one FAST_FALSE_S window with every CPU saturated, our pair (both daemons' heaps
# churned too) and a keepalived pair at advert_int 0.01 side by side, so both meet the same host: this
# machine's virtual CPUs stop for ~100 ms at times under full load (README, Timers below 20 ms), and
# windows run one after the other did not meet the same number of those.
# Rows in $TMP/fast-false.txt: impl|timers|dead declarations / MASTER transitions|role -> active / BACKUP
# transitions|worst send gap alpha/beta us|steal %|VIP at end; our stall guards in $TMP/fast-stalls.txt.
fast_false() {
    local k=$1 d=$2 la lb ka kb s0 t0 s1 t1 ja jb steal
    log "  false failovers at $k/$d and keepalived advert_int 0.01 in one window: ${FAST_FALSE_S}s, stress-ng on all $(nproc) CPUs + heap churn on both daemons"
    lab_up --fencing off --keepalive "$k" --deadtime "$d" --baud "$FAST_BAUD"
    ka_up 0.01
    sleep 3
    for sock in "$CONTROL_alpha" "$CONTROL_beta"; do
        "$BT" query "$sock" '{"cmd":"reset-cadence"}' >/dev/null || die "reset-cadence failed"
    done
    la=$(nlines "$LOG_alpha"); lb=$(nlines "$LOG_beta")
    ka=$(nlines "$KA_DIR/alpha.log"); kb=$(nlines "$KA_DIR/beta.log")
    read -r s0 t0 < <(cpu_line)
    fast_load "$FAST_FALSE_S"
    for sock in "$CONTROL_alpha" "$CONTROL_beta"; do
        "$BT" query "$sock" "{\"cmd\":\"churn\",\"seconds\":$FAST_FALSE_S}" >/dev/null || die "churn command failed"
    done
    sleep "$FAST_FALSE_S"
    stress_wait
    sleep 1
    read -r s1 t1 < <(cpu_line)
    steal=$(awk -v a="$s0" -v b="$s1" -v x="$t0" -v y="$t1" 'BEGIN {printf "%.2f", (b - a) / (y - x) * 100}')
    ja=$(status_of "$CONTROL_alpha"); jb=$(status_of "$CONTROL_beta")
    local dead act bymon holder stalls kept moves steps covers cticks m b nsc
    dead=$(( $(count_after "$LOG_alpha" "$la" 'peer beta dead') + $(count_after "$LOG_beta" "$lb" 'peer alpha dead') ))
    act=$(( $(count_after "$LOG_alpha" "$la" 'arbiter: role active, action None: resources started') + $(count_after "$LOG_beta" "$lb" 'arbiter: role active, action None: resources started') ))
    # A switchover because a node's own service stopped answering its monitor under the load is
    # not the heartbeat's: counted in the VIP moves, and told apart.
    bymon=$(( $(count_after "$LOG_alpha" "$la" 'a local monitor fails and the peer is healthy') + $(count_after "$LOG_beta" "$lb" 'a local monitor fails and the peer is healthy') ))
    stalls=$(( $(count_after "$LOG_alpha" "$la" 'STALL GUARD') + $(count_after "$LOG_beta" "$lb" 'STALL GUARD') ))
    kept=$(( $(count_after "$LOG_alpha" "$la" 'as a standby holding nothing') + $(count_after "$LOG_beta" "$lb" 'as a standby holding nothing') ))
    holder=$(ip netns exec "$NS_client" socat -T1 - "TCP:$VIP:7000" 2>/dev/null || echo '?')
    echo "applianced|$k/$d|$dead \"peer X dead\"|$act \"role … -> active\" ($bymon after a local monitor failed)|$(json_num "$ja" worst_send_gap_us) / $(json_num "$jb" worst_send_gap_us)|$steal|$holder" >>"$TMP/fast-false.txt"
    moves=$(( $(json_num "$ja" moves) + $(json_num "$jb" moves) ))
    steps=$(( $(json_num "$ja" steps) + $(json_num "$jb" steps) ))
    covers=$(( $(json_num "$ja" covers) + $(json_num "$jb" covers) ))
    cticks=$(( $(json_num "$ja" cover_ticks) + $(json_num "$jb" cover_ticks) ))
    echo "$stalls|$kept|$moves|$steps|$covers|$cticks" >"$TMP/fast-stalls.txt"
    log "  -> ours: dead declarations $dead, role -> active $act ($bymon after a local monitor failed), stall guards $stalls ($kept answered by a standby peer), loop passes run by a watcher $steps, heartbeat threads moved off a late CPU $moves times, covers $covers ($cticks keepalives sent for a held pass), worst send gap $(json_num "$ja" worst_send_gap_us)/$(json_num "$jb" worst_send_gap_us) us, VIP on $holder"
    m=$(( $(count_after "$KA_DIR/alpha.log" "$ka" 'Entering MASTER STATE') + $(count_after "$KA_DIR/beta.log" "$kb" 'Entering MASTER STATE') ))
    b=$(( $(count_after "$KA_DIR/alpha.log" "$ka" 'Entering BACKUP STATE') + $(count_after "$KA_DIR/beta.log" "$kb" 'Entering BACKUP STATE') ))
    nsc=$("$KAPAIR" ns "$KA_DIR" client)
    holder=$(ip netns exec "$nsc" socat -T1 - "TCP:192.168.81.10:7000" 2>/dev/null || echo '?')
    echo "keepalived $(keepalived_version)|advert_int 0.01|$m \"Entering MASTER STATE\"|$b \"Entering BACKUP STATE\"|-|$steal|$holder" >>"$TMP/fast-false.txt"
    log "  -> keepalived: MASTER transitions $m, BACKUP transitions $b, VIP on $holder"
    ka_down fast-false-adv0.01
    lab_down "fast-false-$k-$d"
}

# fast_host LABEL [load]: the host's own wake-up latency, FAST_IDLE_S of cyclictest (rt-tests) with one
# SCHED_FIFO thread per CPU at the heartbeat thread's priority and a 1 ms period, no daemon running:
# what any heartbeat sender on this host can count on. A keepalive cannot leave a CPU that is not
# running, so a wake-up this late on the sender is a send gap as long. With "load", stress-ng on
# every CPU meanwhile. Row in $TMP/fast-host.txt: label|samples|median us|max us|>= 5 ms|>= 10 ms|>= 20 ms
fast_host() {
    local label=$1 hist=$TMP/cyclictest.hist
    log "  host wake-up latency, $label: ${FAST_IDLE_S}s of cyclictest, 1 ms period, SCHED_FIFO 40 on each of $(nproc) CPUs"
    [[ ${2:-} == load ]] && fast_load "$FAST_IDLE_S"
    cyclictest --smp -p40 -i1000 -D"${FAST_IDLE_S}" -q -m -h 100000 --histfile="$hist" >/dev/null 2>&1 \
        || die "cyclictest failed (rt-tests installed? scripts/install-deps.sh bench)"
    [[ ${2:-} == load ]] && stress_wait
    # Histogram rows: latency in us, then one count column per CPU; sum the columns.
    awk -v label="$label" '!/^#/ && NF >= 2 {
            c = 0; for (i = 2; i <= NF; i++) c += $i
            n += c; cnt[$1 + 0] += c; if (c > 0 && $1 + 0 > mx) mx = $1 + 0
            if ($1 >= 5000) a += c; if ($1 >= 10000) b += c; if ($1 >= 20000) d += c
        }
        /^# Histogram Overflows:/ { for (i = 4; i <= NF; i++) { o += $i + 0 } }
        END {
            half = n / 2; s = 0; med = 0
            for (l = 0; l <= 100000; l++) if (l in cnt) { s += cnt[l]; if (s >= half) { med = l; break } }
            if (o > 0) mx = ">= 100000"
            printf "%s|%d|%d|%s|%d|%d|%d\n", label, n + o, med, mx, a + o, b + o, d + o
        }' "$hist" >>"$TMP/fast-host.txt"
    log "  -> $(tail -1 "$TMP/fast-host.txt")"
}

# fast_idle_ours K D / fast_idle_ka: CPU % of one core of the standby-side node's processes over FAST_IDLE_S.
fast_idle_ours() {
    local k=$1 d=$2 pid p pids res
    lab_up --fencing off --keepalive "$k" --deadtime "$d" --baud "$FAST_BAUD"
    sleep 5
    pid=$(cat "$LAB_DIR/alpha.pid")
    pids=("$pid")
    for p in $(ip netns pids "$NS_alpha"); do
        [[ $p != "$pid" && $(cat "/proc/$p/comm" 2>/dev/null) == applianced ]] && pids+=("$p")
    done
    log "  applianced alpha at $k/$d idle: ${FAST_IDLE_S}s (pids ${pids[*]})"
    res=$(measure_pids "$FAST_IDLE_S" "${pids[@]}")
    echo "applianced|$k/$d|$res" >>"$TMP/fast-idle.txt"
    lab_down "fast-idle-$k-$d"
}

fast_idle_ka() {
    local ns p pids=() res
    ka_up 0.01
    sleep 5
    ns=$("$KAPAIR" ns "$KA_DIR" alpha)
    for p in $(ip netns pids "$ns"); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == keepalived ]] && pids+=("$p")
    done
    log "  keepalived alpha at advert_int 0.01 idle: ${FAST_IDLE_S}s (pids ${pids[*]})"
    res=$(measure_pids "$FAST_IDLE_S" "${pids[@]}")
    echo "keepalived|advert_int 0.01|$res" >>"$TMP/fast-idle.txt"
    ka_down fast-idle-adv0.01
}

# fast_idle_hb: Linux-HA heartbeat at its fastest well-behaved keepalive, FAST_IDLE_S idle, nodea's
# processes (10 ms: it accepts down to 1 ms, but below 10 ms it reports late heartbeats and dead nodes
# while idle, section 2's probe).
FAST_HB_KEEPALIVE_MS=10
fast_idle_hb() {
    local row
    IDLE_S=$FAST_IDLE_S idle_heartbeat "$FAST_HB_KEEPALIVE_MS"
    row=$(tail -n 1 "$TMP/idle.txt")
    IFS='|' read -r _ _ row _ <<<"$row"
    echo "heartbeat 3.0.6|keepalive ${FAST_HB_KEEPALIVE_MS}ms, deadtime $((5 * FAST_HB_KEEPALIVE_MS))ms|$row" >>"$TMP/fast-idle.txt"
}

section_fast() {
    local k=${FAST_TIMERS%/*} d=${FAST_TIMERS#*/} label="fast:$FAST_TIMERS"
    log "fast: $FAST_TIMERS (serial at $FAST_BAUD baud) vs keepalived advert_int 0.01; $FO_RUNS cuts per case, ${FAST_FALSE_S}s false-failover windows"
    command -v keepalived >/dev/null || die "keepalived not installed (scripts/install-deps.sh bench)"
    command -v cyclictest >/dev/null || die "cyclictest not installed (scripts/install-deps.sh bench)"
    if fast_case idle; then [[ -x /usr/libexec/heartbeat/heartbeat ]] || die "Linux-HA heartbeat not installed (scripts/install-deps.sh bench)"; fi
    : >"$TMP/fast-false.txt"; : >"$TMP/fast-stalls.txt"; : >"$TMP/fast-idle.txt"; : >"$TMP/fast-host.txt"; : >"$TMP/fo.tsv"; : >"$TMP/fe.tsv"
    local load0 load1
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    if fast_case host; then
        fast_host idle
        fast_host "stress-ng on every CPU" load
    fi
    if fast_case cut; then fo_cut_ours "$label" --keepalive "$k" --deadtime "$d" --baud "$FAST_BAUD"; fi
    # The same without connection sync: keepalived's pair here has none (ours commits conntrackd's
    # external cache while the VIPs come up; the commit's work competes with them for the CPUs).
    if fast_case cut-sync-off; then fo_cut_ours "$label,sync-off" --keepalive "$k" --deadtime "$d" --baud "$FAST_BAUD" --sync off; fi
    if fast_case cut-keepalived; then fo_cut_ka 0.01; fi
    if fast_case relay; then fe_cut relay "$label" --keepalive "$k" --deadtime "$d" --baud "$FAST_BAUD"; fi
    if fast_case idle; then
        fast_idle_ours "$k" "$d"
        fast_idle_ka
        fast_idle_hb
    fi
    if fast_case false; then fast_false "$k" "$d"; fi
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    cp "$TMP/fo.tsv" "$OUT/fast-cut-samples.tsv"
    cp "$TMP/fe.tsv" "$OUT/fast-fence-samples.tsv"

    local ours ka relay n_o n_k n_r m_o m_k m_r mx_o mx_k mx_r mn_o mn_k
    awk -F'\t' -v t="$label" '$1 == "ours" && $2 == "cut" && $3 == t' "$TMP/fo.tsv" >"$TMP/sel.tsv"
    n_o=$(wc -l <"$TMP/sel.tsv"); read -r ours m_o mn_o mx_o < <(stats "$TMP/sel.tsv" 5)
    local ns m_s mn_s mx_s oks
    awk -F'\t' -v t="$label,sync-off" '$1 == "ours" && $2 == "cut" && $3 == t' "$TMP/fo.tsv" >"$TMP/sel.tsv"
    ns=$(wc -l <"$TMP/sel.tsv"); read -r oks m_s mn_s mx_s < <(stats "$TMP/sel.tsv" 5)
    awk -F'\t' '$1 == "keepalived" && $2 == "cut" && $3 == "advert_int=0.01"' "$TMP/fo.tsv" >"$TMP/sel.tsv"
    n_k=$(wc -l <"$TMP/sel.tsv"); read -r ka m_k mn_k mx_k < <(stats "$TMP/sel.tsv" 5)
    awk -F'\t' -v t="$label" '$1 == "relay" && $2 == t' "$TMP/fe.tsv" >"$TMP/sel.tsv"
    n_r=$(wc -l <"$TMP/sel.tsv"); read -r relay m_r _ mx_r < <(stats "$TMP/sel.tsv" 5)
    {
        echo "## Fast failover (issue 13): $FAST_TIMERS against keepalived's floor, one run"
        echo
        echo "Load average at the start / end of this section: $load0 / $load1 ($(nproc) CPUs)."
        echo "Power cuts as in section 4 (SIGKILL of everything in the active's namespace, its eth0 down, the"
        echo "serial cable stopped); with relay fencing as in section 5 (the same kill, then the lab's power rail told; fence_delay 0)."
        echo "Client: a new TCP connection every $((FC_INTERVAL_US / 1000)) ms; failover = cut → first answer from the new node."
        echo
        echo "| case | timers | runs ok / total | failover median (ms) | min | max |"
        echo "|---|---|---|---|---|---|"
        echo "| power cut, fencing off | applianced $FAST_TIMERS | $ours / $n_o | $m_o | $mn_o | $mx_o |"
        echo "| power cut, fencing off, no connection sync | applianced $FAST_TIMERS | $oks / $ns | $m_s | $mn_s | $mx_s |"
        echo "| power cut | keepalived VRRPv3 advert_int 0.01 | $ka / $n_k | $m_k | $mn_k | $mx_k |"
        echo "| power cut, relay fencing required | applianced $FAST_TIMERS | $relay / $n_r | $m_r | - | $mx_r |"
        echo
        echo "Ratio of medians, ours / keepalived (fencing off): $(awk -v x="$m_o" -v y="$m_k" 'BEGIN {if (x == "-" || y == "-" || y == 0) print "-"; else printf "%.2f", x / y}') with connection sync,"
        echo "$(awk -v x="$m_s" -v y="$m_k" 'BEGIN {if (x == "-" || y == "-" || y == 0) print "-"; else printf "%.2f", x / y}') without (keepalived's pair has none)."
        echo
        echo "False failovers: one ${FAST_FALSE_S} s window with \`stress-ng --cpu 0\` (every CPU saturated), both pairs"
        echo "running in it side by side, ours also with \`churn\` on both daemons (garbage on the daemon's heap the"
        echo "whole window); nothing was cut, so any count above 0 is a false failover. Worst send gap:"
        echo "\`.heartbeat.worst_send_gap_us\` of each node over the window; our nodes' stall guards (a node that was"
        local counts stalls kept moves steps covers cticks
        counts="-|-|-|-|-|-"
        [[ -s $TMP/fast-stalls.txt ]] && counts=$(cat "$TMP/fast-stalls.txt")
        IFS='|' read -r stalls kept moves steps covers cticks <<<"$counts"
        echo "not scheduled for more than deadtime) fired $stalls times ($kept of them on a node holding the VIP whose peer"
        echo "answered that it had stayed standby, so nothing moved); their watchers ran a pass of a late heartbeat"
        echo "thread's loop from the other CPU $steps times and moved a heartbeat thread late inside its loop off its"
        echo "CPU $moves times; a thread covered for a pass held inside the loop (mostly the watcher for the heartbeat thread) $covers times, sending"
        echo "$cticks keepalives for it. Steal: the host's steal time over the window, % of all CPU time."
        echo
        echo "| daemon | timers | dead declarations / MASTER transitions | VIP moves / BACKUP transitions | worst send gap alpha / beta (µs) | steal % | VIP at end |"
        echo "|---|---|---|---|---|---|---|"
        local a b c e f g h
        while IFS='|' read -r a b c e f g h; do echo "| $a | $b | $c | $e | $f | $g | $h |"; done <"$TMP/fast-false.txt"
        echo
        echo "The host itself: cyclictest, ${FAST_IDLE_S} s, one SCHED_FIFO thread per CPU at the heartbeat's priority"
        echo "(40) waking every 1 ms, no daemon running. Latency is how late each wake-up came; a heartbeat"
        echo "thread's keepalive is late by as much, whatever the daemon does, so the deadtime must stay above the"
        echo "worst of it plus a keepalive for a run without false failovers. Steal time the hypervisor does not"
        echo "report (the steal % above) still shows here."
        echo
        echo "| host | wake-ups | median (µs) | max (µs) | ≥ 5 ms | ≥ 10 ms | ≥ 20 ms |"
        echo "|---|---|---|---|---|---|---|"
        while IFS='|' read -r a b c e f g h; do echo "| $a | $b | $c | $e | $f | $g | $h |"; done <"$TMP/fast-host.txt"
        echo
        echo "Idle, ${FAST_IDLE_S} s, pair up, alpha's processes (ours: daemon + heartbeat worker):"
        echo
        echo "| daemon | timers | CPU % of one core | RSS (kB) | PSS (kB) | processes |"
        echo "|---|---|---|---|---|---|"
        local cpu rss pss n
        while IFS='|' read -r a b c; do
            read -r cpu rss pss n <<<"$c"
            echo "| $a | $b | $cpu | $rss | $pss | $n |"
        done <"$TMP/fast-idle.txt"
        echo
        echo "Raw samples: out/bench/fast-cut-samples.tsv, out/bench/fast-fence-samples.tsv."
        echo
    } >"$R_FAST"
}
