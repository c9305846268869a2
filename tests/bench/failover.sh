# tests/bench/failover.sh: section 4 of run-bench.sh (sourced by it; uses its helpers, knobs and
# cleanup trap). Client-observed failover of the appliance lab vs a keepalived VRRPv3 pair.
#   FO_RUNS (BENCH_FAILOVER_RUNS, 20)  FALSE_S (BENCH_FALSE_SECONDS, 60)
#   FO_CASES (BENCH_FAILOVER_CASES, "cut switch false": the groups of cases to run)
# shellcheck shell=bash

FC_INTERVAL_US=1000   # client: one new TCP connection every 1 ms, overlapping
FC_TIMEOUT_MS=100     # ... each given 100 ms to connect and read its answer

# fc_start NS IP UNTIL MAX_MS: start the client loop in NS (sets FC_PID, output $TMP/fc.out) and
# wait (3 s) for its first answer; sets FC_FIRST to that answer's node name ('' if none).
# (Not in a subshell: FC_PID must be this shell's child.)
fc_start() {
    : >"$TMP/fc.out"
    ip netns exec "$1" "$FC" "$2" 7000 "$FC_INTERVAL_US" "$FC_TIMEOUT_MS" "$4" "$3" >"$TMP/fc.out" 2>&1 &
    FC_PID=$!
    local end=$((SECONDS + 3))
    until grep -q '^first ' "$TMP/fc.out"; do
        if ((SECONDS >= end)) || ! [[ -d /proc/$FC_PID ]]; then FC_FIRST=''; return; fi
        sleep 0.02
    done
    FC_FIRST=$(awk '$1 == "first" {print $3; exit}' "$TMP/fc.out")
}

# fc_wait: wait for the client loop; sets FC_RES to "LAST_NS NEW_NS" or "-".
fc_wait() {
    wait "$FC_PID" 2>/dev/null || true
    FC_PID=''
    FC_RES=$(awk '$1 == "switch" {print $2, $4; f = 1} END {if (!f) print "-"}' "$TMP/fc.out")
}

fc_stop() {
    if [[ -n $FC_PID ]]; then kill -TERM "$FC_PID" 2>/dev/null || true; wait "$FC_PID" 2>/dev/null || true; fi
    FC_PID=''
}

rand_sleep() { sleep "$(awk -v r=$RANDOM -v b="$1" -v s="$2" 'BEGIN {printf "%.3f", b + r / 32768 * s}')"; }

# fo_row IMPL SCENARIO TIMERS RUN T0 "LAST NEW": appends to $TMP/fo.tsv
# columns: impl scenario timers run kill_to_new_ms gap_last_old_to_new_ms
fo_row() {
    local last new
    read -r last new <<<"$6"
    if [[ $last == - ]]; then
        printf '%s\t%s\t%s\t%s\t-\t-\n' "$1" "$2" "$3" "$4" >>"$TMP/fo.tsv"
        log "    $1 $2 $3 run $4: NO answer from the other node (recorded as a failure)"
        return
    fi
    if ((new < $5)); then
        # the other node answered before the cut: it had taken over falsely (an overloaded host), so
        # this run measures nothing
        printf '%s\t%s\t%s\t%s\t-\t-\n' "$1" "$2" "$3" "$4" >>"$TMP/fo.tsv"
        log "    $1 $2 $3 run $4: the other node answered $(( ($5 - new) / 1000000 )) ms BEFORE the cut (a false takeover): recorded as a failure"
        return
    fi
    awk -v i="$1" -v s="$2" -v t="$3" -v r="$4" -v t0="$5" -v l="$last" -v n="$new" \
        'BEGIN {printf "%s\t%s\t%s\t%s\t%.1f\t%.1f\n", i, s, t, r, (n - t0) / 1e6, (n - l) / 1e6}' >>"$TMP/fo.tsv"
    log "    $1 $2 $3 run $4: $(tail -n 1 "$TMP/fo.tsv" | awk -F'\t' '{print "from t0 " $5 " ms, gap " $6 " ms"}')"
}

# --- ours: power cut of the active node
fo_cut_ours() {
    local timers=$1; shift
    local i who t0 pids
    log "  applianced power cut at $timers: $FO_RUNS runs (lab down + up between runs)"
    for ((i = 1; i <= FO_RUNS; i++)); do
        lab_up --fencing off "$@"
        fc_start "$NS_client" "$VIP" beta 15000; who=$FC_FIRST
        if [[ $who != alpha ]]; then
            fc_stop
            log "    run $i: the client's first answer was '${who}', not alpha: skipped"
            printf 'ours\tcut\t%s\t%s\t-\t-\n' "$timers" "$i" >>"$TMP/fo.tsv"
            lab_down "failover-cut-${timers//\//-}-fail$i"; continue
        fi
        rand_sleep 0.3 0.2
        pids=$(ip netns pids "$NS_alpha")
        t0=$(now_ns)
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        ip -n "$NS_alpha" link set eth0 down
        labc cut all >/dev/null || die "lab cut all failed"
        fc_wait
        fo_row ours cut "$timers" "$i" "$t0" "$FC_RES"
        # each run's logs kept, and the cut's wall-clock time to find it in them
        log "      cut at $(date +%T.%3N --date="@${t0:0:10}.${t0:10:3}"); logs failover-cut-${timers//\//-}-$i-*.log"
        lab_down "failover-cut-${timers//\//-}-$i"
    done
}

# --- ours: planned switchover (alpha standby), then back (alpha takeover --force)
fo_switch_ours() {
    local timers=$1; shift
    local i who t0 t1
    log "  applianced planned switchover at $timers: $FO_RUNS runs"
    lab_up --fencing off "$@"
    for ((i = 1; i <= FO_RUNS; i++)); do
        sleep 0.3
        fc_start "$NS_client" "$VIP" beta 15000; who=$FC_FIRST
        if [[ $who != alpha ]]; then fc_stop; die "switchover run $i: first answer '${who}', not alpha"; fi
        sleep 0.1
        t0=$(now_ns)
        labc ctl alpha standby >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fc_stop; die "ctl alpha standby failed"; }
        fc_wait
        fo_row ours switch "$timers" "$i" "$t0" "$FC_RES"
        sleep 0.3
        fc_start "$NS_client" "$VIP" alpha 15000; who=$FC_FIRST
        if [[ $who != beta ]]; then fc_stop; die "switchover run $i: after standby the first answer is '${who}', not beta"; fi
        sleep 0.1
        t1=$(now_ns)
        labc ctl alpha takeover --force >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fc_stop; die "ctl alpha takeover --force failed"; }
        fc_wait
        fo_row ours back "$timers" "$i" "$t1" "$FC_RES"
    done
    lab_down "failover-switch-${timers//\//-}"
}

# --- ours: SIGTERM of the active daemon (what systemctl stop/restart and an upgrade send), fencing
# required: a planned switchover, nobody fenced. Then start it again and take the VIP back.
fo_term_ours() {
    local timers=$1; shift
    local i who t0 power
    log "  applianced SIGTERM of the active daemon at $timers, fencing required: $FO_RUNS runs"
    lab_up --fencing required "$@"
    for ((i = 1; i <= FO_RUNS; i++)); do
        sleep 0.3
        fc_start "$NS_client" "$VIP" beta 15000; who=$FC_FIRST
        if [[ $who != alpha ]]; then fc_stop; die "SIGTERM run $i: first answer '${who}', not alpha"; fi
        sleep 0.1
        t0=$(now_ns)
        labc stop alpha >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; fc_stop; die "lab stop alpha failed"; }
        fc_wait
        fo_row ours term "$timers" "$i" "$t0" "$FC_RES"
        power=$(cat "$LAB_DIR/power-alpha")
        [[ $power == on ]] || die "SIGTERM run $i: beta fenced alpha (power $power): a clean stop must not be fenced"
        labc start alpha >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; die "lab start alpha failed"; }
        "$BT" wait "$(now_ns)" 15000 20 up "$CONTROL_alpha" "$CONTROL_beta" >/dev/null || die "SIGTERM run $i: alpha not met again within 15 s"
        labc ctl alpha takeover --force >"$TMP/ctl.out" 2>&1 || { cat "$TMP/ctl.out" >&2; die "ctl alpha takeover --force failed"; }
    done
    lab_down "failover-term-${timers//\//-}"
}

# --- keepalived
ka_up() {   # ka_up ADVERT -> KA_DIR, waits for alpha MASTER / beta BACKUP (15 s)
    KA_DIR=$(mktemp -d "$TMP/ka.XXXX")
    KA_DIRS+=("$KA_DIR")
    "$KAPAIR" up "$KA_DIR" "$1" || die "kapair up $1 failed"
    local end=$((SECONDS + 15))
    until grep -qs 'Entering MASTER STATE' "$KA_DIR/alpha.log" && grep -qs 'Entering BACKUP STATE' "$KA_DIR/beta.log"; do
        ((SECONDS < end)) || { tail -n 20 "$KA_DIR"/*.log >&2; die "keepalived pair (advert_int $1) not MASTER/BACKUP within 15 s"; }
        sleep 0.05
    done
}

ka_down() {   # ka_down TAG
    cp "$KA_DIR/alpha.log" "$OUT/logs/keepalived-$1-alpha.log" 2>/dev/null || true
    cp "$KA_DIR/beta.log" "$OUT/logs/keepalived-$1-beta.log" 2>/dev/null || true
    "$KAPAIR" down "$KA_DIR" || true
    local x=() e
    for e in "${KA_DIRS[@]}"; do [[ $e == "$KA_DIR" ]] || x+=("$e"); done
    KA_DIRS=("${x[@]}")
    rm -rf "$KA_DIR"
}

fo_cut_ka() {
    local adv=$1 timers="advert_int=$1" i who t0 nsc
    log "  keepalived power cut at advert_int $adv: $FO_RUNS runs (pair rebuilt between runs)"
    for ((i = 1; i <= FO_RUNS; i++)); do
        ka_up "$adv"
        nsc=$("$KAPAIR" ns "$KA_DIR" client)
        fc_start "$nsc" 192.168.81.10 beta 15000; who=$FC_FIRST
        if [[ $who != alpha ]]; then
            fc_stop
            log "    run $i: the client's first answer was '${who}', not alpha: skipped"
            printf 'keepalived\tcut\t%s\t%s\t-\t-\n' "$timers" "$i" >>"$TMP/fo.tsv"
            ka_down "fail$i"; continue
        fi
        # beta must have heard alpha's adverts for a while; then a random phase within one advert
        rand_sleep "$(awk -v a="$adv" 'BEGIN {print (a >= 1 ? 1.2 : 0.3)}')" "$adv"
        t0=$("$KAPAIR" kill "$KA_DIR" alpha) || die "kapair kill failed"
        fc_wait
        fo_row keepalived cut "$timers" "$i" "$t0" "$FC_RES"
        ka_down "cut-adv$adv"
    done
}

# --- false failovers under load
fo_false_ours() {   # fo_false_ours KEEPALIVE DEADTIME
    local k=$1 d=$2 la lb
    log "  applianced false failovers: $k/$d, ${FALSE_S}s with stress-ng --cpu 1"
    lab_up --fencing off --keepalive "$k" --deadtime "$d"
    sleep 3
    la=$(nlines "$LOG_alpha"); lb=$(nlines "$LOG_beta")
    setsid stress-ng --cpu 1 --timeout "${FALSE_S}s" --quiet </dev/null >"$TMP/stress.log" 2>&1 &
    STRESS_PID=$!
    sleep "$FALSE_S"
    stress_wait
    local dead act holder
    dead=$(( $(count_after "$LOG_alpha" "$la" 'peer beta dead') + $(count_after "$LOG_beta" "$lb" 'peer alpha dead') ))
    act=$(( $(count_after "$LOG_alpha" "$la" 'arbiter: role active, action None: resources started') + $(count_after "$LOG_beta" "$lb" 'arbiter: role active, action None: resources started') ))
    holder=$(ip netns exec "$NS_client" socat -T1 - "TCP:$VIP:7000" 2>/dev/null || echo '?')
    echo "applianced|keepalive $k, deadtime $d|$dead \"peer X dead\"|$act \"role … -> active\"|$holder" >>"$TMP/false.txt"
    log "  -> dead declarations $dead, role -> active $act, VIP on $holder at the end"
    lab_down "failover-false-$k-$d"
}

fo_false_ka() {
    local la lb
    log "  keepalived false failovers: advert_int 0.01, ${FALSE_S}s with stress-ng --cpu 1"
    ka_up 0.01
    sleep 3
    la=$(nlines "$KA_DIR/alpha.log"); lb=$(nlines "$KA_DIR/beta.log")
    setsid stress-ng --cpu 1 --timeout "${FALSE_S}s" --quiet </dev/null >"$TMP/stress.log" 2>&1 &
    STRESS_PID=$!
    sleep "$FALSE_S"
    stress_wait
    local m b holder nsc
    m=$(( $(count_after "$KA_DIR/alpha.log" "$la" 'Entering MASTER STATE') + $(count_after "$KA_DIR/beta.log" "$lb" 'Entering MASTER STATE') ))
    b=$(( $(count_after "$KA_DIR/alpha.log" "$la" 'Entering BACKUP STATE') + $(count_after "$KA_DIR/beta.log" "$lb" 'Entering BACKUP STATE') ))
    nsc=$("$KAPAIR" ns "$KA_DIR" client)
    holder=$(ip netns exec "$nsc" socat -T1 - "TCP:192.168.81.10:7000" 2>/dev/null || echo '?')
    echo "keepalived $(keepalived_version)|advert_int 0.01 (VRRPv3)|$m \"Entering MASTER STATE\"|$b \"Entering BACKUP STATE\"|$holder" >>"$TMP/false.txt"
    log "  -> MASTER transitions $m, BACKUP transitions $b, VIP on $holder at the end"
    ka_down false-adv0.01
}

stress_wait() {
    local end=$((SECONDS + 10))
    while [[ -d /proc/$STRESS_PID ]] && [[ $(awk '{print $3}' "/proc/$STRESS_PID/stat" 2>/dev/null) != Z ]]; do
        ((SECONDS < end)) || die "stress-ng did not end 10 s after its timeout"
        sleep 0.2
    done
    wait "$STRESS_PID" 2>/dev/null || true
    STRESS_PID=''
}

# fo_case NAME: is this group of cases (cut, switch, false) selected by BENCH_FAILOVER_CASES?
fo_case() { [[ " $FO_CASES " == *" $1 "* ]]; }

keepalived_version() { dpkg-query -W -f='${Version}' keepalived 2>/dev/null || echo '?'; }

section_failover() {
    log "4. failover: $FO_RUNS runs per case, client connects every ${FC_INTERVAL_US}us; false failovers ${FALSE_S}s"
    if ! command -v keepalived >/dev/null; then
        log "  installing keepalived (apt-get)"
        timeout 300 apt-get install -y keepalived >"$TMP/apt.log" 2>&1 || { tail "$TMP/apt.log" >&2; die "apt-get install keepalived failed"; }
    fi
    # the Debian package starts a system keepalived; we never touch it, ours run in namespaces.
    : >"$TMP/fo.tsv"; : >"$TMP/false.txt"
    # advert_int 0.01 accepted? (keepalived --config-test in a namespace with eth0)
    KA_DIR=$(mktemp -d "$TMP/ka.XXXX"); KA_DIRS+=("$KA_DIR")
    "$KAPAIR" up "$KA_DIR" 0.01 || die "kapair up failed"
    local katest
    katest=$(ip netns exec "$("$KAPAIR" ns "$KA_DIR" alpha)" timeout 10 keepalived --config-test -f "$KA_DIR/alpha.conf" 2>&1; echo "exit $?")
    ka_down probe
    echo "$katest" >"$OUT/logs/keepalived-config-test-adv0.01.txt"
    log "  keepalived --config-test with advert_int 0.01: $(tail -n 1 <<<"$katest")"

    if fo_case cut; then
        fo_cut_ours 200ms/1s
        fo_cut_ours 20ms/100ms --keepalive 20ms --deadtime 100ms
        fo_cut_ours 20ms/50ms --keepalive 20ms --deadtime 50ms
        fo_cut_ka 1
        fo_cut_ka 0.01
    fi
    if fo_case switch; then
        fo_switch_ours 200ms/1s
        fo_switch_ours 20ms/100ms --keepalive 20ms --deadtime 100ms
        fo_term_ours 200ms/1s
        fo_term_ours 20ms/100ms --keepalive 20ms --deadtime 100ms
    fi
    if fo_case false; then
        fo_false_ours 20ms 100ms
        fo_false_ours 20ms 50ms
        fo_false_ka
    fi
    cp "$TMP/fo.tsv" "$OUT/failover-samples.tsv"

    # the effective advert interval keepalived used (its log prints the instance at start)
    local adv_eff
    adv_eff=$(grep -hoE 'Advert interval = [0-9]+ ?[a-z]*' "$OUT"/logs/keepalived-cut-adv0.01-*.log 2>/dev/null | head -n 1 || true)
    {
        echo "## 4. Failover (client-observed) vs keepalived"
        echo
        echo "Measured the way a client would see it. A client (tests/bench/failclient.c) in the client"
        echo "namespace opens a new TCP connection to VIP:7000 every $((FC_INTERVAL_US / 1000)) ms on an absolute schedule, whether or not"
        echo "the earlier ones have finished (up to 1024 in flight, each given ${FC_TIMEOUT_MS} ms to connect and read to EOF),"
        echo "reads the node name the service answers, and reports the CLOCK_REALTIME stamp of the last answer"
        echo "from alpha and of the first answer from beta. A connection whose SYN went to a box that no longer"
        echo "holds the VIP times out on its own without holding up the next ones, so both stamps are exact to"
        echo "within one interval ($((FC_INTERVAL_US / 1000)) ms) plus a round trip, however long the service was away."
        echo
        echo "- **Power cut** (\"kill instant\" = \`date +%s%N\` taken just before the SIGKILL): SIGKILL of every"
        echo "  process in the active node's network namespace (daemon, heartbeat worker / keepalived parent +"
        echo "  VRRP child, the socat service), then \`ip link set eth0 down\` in it so its kernel stops answering"
        echo "  (for our lab also \`lab cut all\`, which stops the serial cable). Failover = kill instant → first"
        echo "  answer from beta. Before each run the pair is rebuilt from scratch (\`lab down\` + \`lab up --fencing"
        echo "  off\`; kapair down + up) and the run starts only when the client's first answer is from alpha,"
        echo "  then waits 0.3–0.5 s (lab) or 1.2 s + a random fraction of one advert (keepalived) so the kill"
        echo "  lands anywhere in the heartbeat cycle."
        echo "- **Planned switchover** (ours only): \`lab ctl alpha standby\`; gap = last answer from alpha → first"
        echo "  from beta, and from the command's start. Then \`lab ctl alpha takeover --force\` moves it back"
        echo "  (\"back\" rows, same measurement towards alpha)."
        echo "- **SIGTERM** (ours only, fencing required): \`lab stop alpha\` (SIGTERM, as \`systemctl stop\`);"
        echo "  same gap measurement; every run checks that alpha kept its power (it was not fenced)."
        echo "- **keepalived**: Debian \`keepalived\` $(keepalived_version), run by tests/bench/kapair in the same shape of"
        echo "  namespaces (bridge, alpha/beta/client, socat service answering the node name) as"
        echo "  \`keepalived -n -l -D -f conf -p pid -r vrrp.pid\`; one VRRPv3 instance, VIP /24 on eth0,"
        echo "  alpha \`state MASTER\` priority 150, beta \`state BACKUP\` priority 100, preempt on (irrelevant"
        echo "  here: the pair is rebuilt for every run), default GARP settings (5 GARPs at once on becoming"
        echo "  MASTER). VRRP's backup takes over after Master_Down_Interval = 3 × advert_int + skew"
        echo "  ((256 − 100)/256 × advert_int), i.e. ≈ 3.6 s at advert_int 1 and ≈ 36 ms at 0.01."
        echo "  \`keepalived --config-test\` with \`advert_int 0.01\`: \`$(tail -n 1 <<<"$katest")\`$( [[ -n $adv_eff ]] && echo "; its log at start: \`$adv_eff\`")."
        echo
        echo "| scenario | implementation | timers | runs ok / total | kill (or command) → first answer from the new node: median | max | min | last old answer → first new (gap): median | max |"
        echo "|---|---|---|---|---|---|---|---|---|"
        local impl sc tm n okn m1 mn1 mx1 m2 mx2
        while IFS='|' read -r sc impl tm; do
            awk -F'\t' -v i="$impl" -v s="$sc" -v t="$tm" '$1 == i && $2 == s && $3 == t' "$TMP/fo.tsv" >"$TMP/sel.tsv"
            n=$(wc -l <"$TMP/sel.tsv")
            read -r okn m1 mn1 mx1 < <(stats "$TMP/sel.tsv" 5)
            read -r _ m2 _ mx2 < <(stats "$TMP/sel.tsv" 6)
            echo "| $sc | $impl | $tm | $okn / $n | $m1 | $mx1 | $mn1 | $m2 | $mx2 |"
        done <<'EOF'
cut|ours|200ms/1s
cut|ours|20ms/100ms
cut|ours|20ms/50ms
cut|keepalived|advert_int=1
cut|keepalived|advert_int=0.01
switch|ours|200ms/1s
back|ours|200ms/1s
switch|ours|20ms/100ms
back|ours|20ms/100ms
term|ours|200ms/1s
term|ours|20ms/100ms
EOF
        echo
        echo "Ratios ours / keepalived (medians, power cut, kill → first answer from beta):"
        echo
        echo "| ours | keepalived | ours median | keepalived median | ratio |"
        echo "|---|---|---|---|---|"
        local a b ma mb
        for pair in "200ms/1s|advert_int=1" "20ms/100ms|advert_int=0.01" "20ms/50ms|advert_int=0.01"; do
            a=${pair%%|*}; b=${pair#*|}
            awk -F'\t' -v t="$a" '$1 == "ours" && $2 == "cut" && $3 == t' "$TMP/fo.tsv" >"$TMP/sel.tsv"
            read -r _ ma _ _ < <(stats "$TMP/sel.tsv" 5)
            awk -F'\t' -v t="$b" '$1 == "keepalived" && $2 == "cut" && $3 == t' "$TMP/fo.tsv" >"$TMP/sel.tsv"
            read -r _ mb _ _ < <(stats "$TMP/sel.tsv" 5)
            echo "| $a | $b | $ma | $mb | $(awk -v x="$ma" -v y="$mb" 'BEGIN {if (x == "-" || y == "-" || y == 0) print "-"; else printf "%.2f", x / y}') |"
        done
        echo
        echo "False failovers under load: ${FALSE_S} s with \`stress-ng --cpu 1\` (one of the $(nproc) CPUs saturated),"
        echo "pair up and settled 3 s before; counted in the logs of both nodes over the window (any count > 0"
        echo "is a failure: nothing was cut). \"VIP at end\" = the node answering on VIP:7000 afterwards."
        echo
        echo "| daemon | timers | dead declarations / MASTER transitions | VIP moves (role -> active) / BACKUP transitions | VIP at end |"
        echo "|---|---|---|---|---|"
        local d t x y h
        while IFS='|' read -r d t x y h; do echo "| $d | $t | $x | $y | $h |"; done <"$TMP/false.txt"
        echo
        echo "Raw samples: out/bench/failover-samples.tsv (impl, scenario, timers, run, kill→new ms, gap ms;"
        echo "'-' = no answer from the other node within 15 s). Logs: out/bench/logs/failover-*, keepalived-*"
        echo "(the last run of each case)."
        echo
    } >"$R_FO"
}
