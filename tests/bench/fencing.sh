# tests/bench/fencing.sh: section 5 of run-bench.sh (sourced by it; uses its helpers, knobs and
# cleanup trap). Fencing: time from "peer dead" to "fence verified" per device kind, and the
# client-observed failover with fencing required, both from the same power cuts; and cluster-glue's
# `stonith -t rps10` against the same PDU simulator for comparison.
#   FO_RUNS (BENCH_FAILOVER_RUNS, 20) runs per case.
# shellcheck shell=bash

# fence_history_last SOCK: the last fence history entry of the daemon at SOCK, as "device elapsed_ms verified".
fence_history_last() {
    local j
    j=$("$BT" query "$1" '{"cmd":"fence-history"}' 2000) || return 1
    j=${j##*\{\"target\"}
    printf '%s %s %s\n' "$(grep -o '"device":"[^"]*"' <<<"$j" | cut -d'"' -f4)" "$(json_num "$j" elapsed_ms)" \
        "$(grep -o '"verified":[a-z]*' <<<"$j" | cut -d: -f2)"
}

fence_history_count() { local j; j=$("$BT" query "$1" '{"cmd":"fence-history"}' 2000) || j=''; grep -o '"target"' <<<"$j" | wc -l || true; }

# A freshly booted node opens its PDU session with a 2 s handshake: measure only once it is watched.
fe_wait_pdu_sessions() {
    local end=$((SECONDS + 30)) sock j
    for sock in "$CONTROL_alpha" "$CONTROL_beta"; do
        while j=$("$BT" query "$sock" '{"cmd":"status"}' 2000 || true); grep -o '"kind":"serial-pdu","health":"[^"]*"' <<<"$j" | grep -qv 'session up'; do
            ((SECONDS < end)) || die "PDU session not up 30 s after boot"
            sleep 0.1
        done
    done
}

# fe_cut KIND TIMERS LAB_ARGS...: FO_RUNS pulled plugs of the active node with fencing required via
# KIND (no fence_delay, so the fence starts when the peer is declared dead); KIND "off": fencing
# off, for comparison. The plug is pulled as in section 4's power cut (every process of the node
# SIGKILLed, its eth0 down: the PIDs are read first), then the lab's power rail is told, so it finishes
# the cut and the relay or the PDU finds the node off. The failover is timed from the kill: the rail
# itself takes 20-100 ms to notice a plug and kill a node (it is a shell loop that forks), which is the
# lab's, not the failover's.
# Rows in $TMP/fe.tsv: kind timers run dead_to_verified_ms client_failover_ms device
fe_cut() {
    local kind=$1 timers=$2 i active standby n0 t0 res
    shift 2
    log "  fencing via $kind at $timers: $FO_RUNS pulled plugs"
    if [[ $kind == off ]]; then lab_up --fencing off "$@"
    else lab_up --fencing required --fence "$kind" --fence-delay 0ms --fence-delay-random 0ms "$@"; fi
    fe_wait_pdu_sessions
    for ((i = 1; i <= FO_RUNS; i++)); do
        if labc status --json | grep -o '"alpha": {[^}]*}' | grep -q '"holds_vip": true'; then active=alpha; else active=beta; fi
        standby=$([[ $active == alpha ]] && echo beta || echo alpha)
        local sock_standby="CONTROL_$standby" ns_client=$NS_client
        n0=$(fence_history_count "${!sock_standby}")
        fc_start "$ns_client" "$VIP" "$standby" 15000
        if [[ $FC_FIRST != "$active" ]]; then
            fc_stop; log "    run $i: first answer '${FC_FIRST}', not $active: skipped"; continue
        fi
        rand_sleep 0.3 0.2
        local ns_active="NS_$active" pids
        pids=$(ip netns pids "${!ns_active}")
        t0=$(now_ns)
        # shellcheck disable=SC2086 # a list of PIDs
        kill -KILL $pids 2>/dev/null || true
        # the ip command runs in the node's namespace: the rail may kill it too, when the standby's fence
        # is quicker than it (the rail's cut takes the link down anyway)
        ip -n "${!ns_active}" link set eth0 down 2>/dev/null || true
        labc power off "$active" >/dev/null
        fc_wait
        if [[ $kind == off ]]; then
            dev=- ms=- verified=false
        else
            local end=$((SECONDS + 20))
            until (($(fence_history_count "${!sock_standby}") > n0)); do
                ((SECONDS < end)) || die "$kind run $i: no fence recorded by $standby within 20 s"
                sleep 0.05
            done
            read -r dev ms verified < <(fence_history_last "${!sock_standby}")
        fi
        read -r _last new <<<"$FC_RES"
        res=$(awk -v t0="$t0" -v n="$new" 'BEGIN {if (n == "" || n == "-") print "-"; else printf "%.1f", (n - t0) / 1e6}')
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$timers" "$i" "$([[ $verified == true ]] && echo "$ms" || echo -)" "$res" "$dev" >>"$TMP/fe.tsv"
        log "    run $i: $standby fenced $active via $dev in ${ms} ms (verified $verified); client failover ${res} ms (power off at $(date +%T.%3N --date="@${t0:0:10}.${t0:10:3}"))"
        # restore: the fenced node stays off (action off) until `fence on`, and the plug back in
        labc power on "$active" >/dev/null
        [[ $kind == off ]] || labc ctl "$standby" fence on "$active" >/dev/null || die "fence on $active failed"
        "$BT" wait "$(now_ns)" 30000 20 up "$CONTROL_alpha" "$CONTROL_beta" >/dev/null || die "$active did not come back"
        fe_wait_pdu_sessions
        sleep 0.5
    done
    lab_down "fencing-$kind-${timers//\//-}"
}

# fe_stonith: cluster-glue's client against the same simulator program (a stand-alone instance):
# every action redoes its 2 s DTR handshake. Rows: stonith - run ms - rps10
fe_stonith() {
    local i t0 t1 rc dir=$TMP/pdu pid
    log "  cluster-glue stonith -t rps10 -T off against the PDU simulator: $FO_RUNS runs"
    mkdir -p "$dir"
    echo none >"$dir/fault"
    "$BIN/appliance-lab" pdusim --link "$dir/tty" --state "$dir/state" --fault-file "$dir/fault" >"$OUT/logs/pdusim-stonith.log" 2>&1 &
    pid=$!
    local end=$((SECONDS + 10))
    until [[ -e $dir/tty ]]; do ((SECONDS < end)) || die "PDU simulator did not start"; sleep 0.05; done
    for ((i = 1; i <= FO_RUNS; i++)); do
        t0=$(now_ns)
        rc=0; stonith -t rps10 -p "$dir/tty alpha 1" -T off alpha </dev/null >/dev/null 2>&1 || rc=$?
        t1=$(now_ns)
        ((rc == 0)) || die "stonith -T off failed with $rc"
        grep -qx '1 off' "$dir/state" || die "stonith -T off did not switch outlet 1 off"
        stonith -t rps10 -p "$dir/tty alpha 1" -T on alpha </dev/null >/dev/null 2>&1 || die "stonith -T on failed"
        printf 'stonith\t-\t%s\t%s\t-\trps10\n' "$i" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')" >>"$TMP/fe.tsv"
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
}

section_fencing() {
    log "5. fencing: $FO_RUNS runs per device kind"
    command -v stonith >/dev/null || die "cluster-glue (stonith) not installed (scripts/install-deps.sh bench)"
    [[ -x $BIN/appliance-lab ]] || die "no appliance-lab in $BIN (make bin)"
    : >"$TMP/fe.tsv"
    fe_cut off 200ms/1s
    fe_cut relay 200ms/1s
    fe_cut pdu 200ms/1s
    fe_cut off 20ms/100ms --keepalive 20ms --deadtime 100ms
    fe_cut relay 20ms/100ms --keepalive 20ms --deadtime 100ms
    fe_stonith
    cp "$TMP/fe.tsv" "$OUT/fencing-samples.tsv"
    {
        echo "## 5. Fencing"
        echo
        echo "A pulled plug of the active node, $FO_RUNS times per case, fencing required, fence_delay 0."
        echo "*dead → verified*: the standby's fence history (from the FencePeer decision right after the peer"
        echo "was declared dead, to the status read that proves it off). *client failover*: from the pulled"
        echo "plug (the node's processes killed, then the lab's power rail told) to the first answer from the other node on the"
        echo "VIP (client connects every $((FC_INTERVAL_US / 1000)) ms, overlapping)."
        echo "cluster-glue: \`stonith -t rps10 -T off\` against the same PDU simulator program (the whole command)."
        echo
        echo "| device | timers | runs | dead → verified median | max | client failover median | max |"
        echo "|---|---|---|---|---|---|---|"
        local key kind timers n med max fn fmed fmax
        for key in "off 200ms/1s" "relay 200ms/1s" "pdu 200ms/1s" "off 20ms/100ms" "relay 20ms/100ms" "stonith -"; do
            read -r kind timers <<<"$key"
            awk -F'\t' -v k="$kind" -v t="$timers" '$1 == k && $2 == t' "$TMP/fe.tsv" >"$TMP/sel.tsv"
            read -r n med _ max < <(stats "$TMP/sel.tsv" 4)
            read -r fn fmed _ fmax < <(stats "$TMP/sel.tsv" 5)
            case $kind in
                off) kind="none (fencing off, for comparison)"; n=$fn; med=-; max=- ;;
                relay) kind="GPIO relay (simulated chip)" ;;
                pdu) kind="RPS-10 PDU, 9600 baud, session open" ;;
                stonith) kind="cluster-glue stonith -t rps10 (new session per action)" ;;
            esac
            if ((fn == 0)); then fmed=-; fmax=-; fi
            echo "| $kind | $timers | $n | $med ms | $max ms | $fmed ms | $fmax ms |"
        done
        echo
    } >"$R_FE"
}
