# tests/bench/held.sh: the "held" section of run-bench.sh (sourced by it; uses its helpers, knobs and
# cleanup trap). A held TCP connection through the director's VIP across a power cut of the active
# node: the worst stall (the largest round trip `appliance-lab client hold` saw: one line every
# 100 ms, each answer awaited up to 5 s) and whether every line came back, HELD_RUNS times for
#   ours, fencing off      lab (sync on), 50ms/250ms, fencing off (as keepalived: nobody fences)
#   ours, fencing required lab (sync on), 50ms/250ms, fencing by relay, fence_delay 300ms + 0..200ms
#   keepalived+conntrackd  tests/bench/kactpair: VRRPv3 advert_int 0.05 (master down after ~3 adverts),
#                          conntrack-tools' primary-backup.sh as notify script, no guard rule
# The node powered off comes back (as standby) before the next run; runs alternate the active node.
#   HELD_RUNS (BENCH_HELD_RUNS, 20)
# shellcheck shell=bash disable=SC2154 # NS_*, CONTROL_*, ADDR_client, LAB_DIR, VIP: set by eval "$(labc env)" in lab_up

HELD_RUNS=${BENCH_HELD_RUNS:-20}
HELD_S=4            # the hold: 40 lines
HELD_TIMEOUT=5s     # an answer counts if it comes within 5 s (a stall, not a loss)
KACT=$HERE/kactpair   # also used by run-bench.sh's cleanup

# held_parse FILE IMPL RUN: appends "impl run worst_ms ok sent verdict" to $TMP/held.tsv
held_parse() {
    local sum ok sent worst verdict=survived
    sum=$(grep -o 'server=.*' "$1" | head -n 1)
    ok=$(grep -o 'ok=[0-9]*' <<<"$sum" | cut -d= -f2); sent=$(grep -o 'sent=[0-9]*' <<<"$sum" | cut -d= -f2)
    worst=$(grep -o 'worst_ms=[0-9.]*' <<<"$sum" | cut -d= -f2)
    if grep -q '^lost after' "$1"; then verdict="lost($(sed -n 's/^lost after [0-9.]* s: //p' "$1"))"
    elif [[ -z $ok || $ok != "$((HELD_S * 10))" ]]; then verdict="bad(ok=${ok:-?})"; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "${worst:--}" "${ok:--}" "${sent:--}" "$verdict" >>"$TMP/held.tsv"
    log "    $2 run $3: worst stall ${worst:-?} ms, ok ${ok:-?}/${sent:-?}, $verdict"
}

lab_vip_holder() {
    local n
    for n in alpha beta; do
        local ns="NS_$n"
        if [[ $(ip -n "${!ns}" -o addr show dev eth0 2>/dev/null) == *" $VIP/"* ]]; then echo "$n"; return; fi
    done
}

other_of() { if [[ $1 == alpha ]]; then echo beta; else echo alpha; fi; }

# held_wait_connected FILE: until the hold printed "connected" (15 s: the machine is shared).
held_wait_connected() {
    local end=$((SECONDS + 15))
    until grep -q '^connected ' "$1" 2>/dev/null; do
        ((SECONDS < end)) || die "client hold did not connect: $(cat "$1")"
        sleep 0.02
    done
}

# --- ours: lab with sync; OPTIONS... for lab up; TAG names the row
held_ours() {
    local tag=$1; shift
    local i active standby hold_pid end ns conf
    log "  $tag: $HELD_RUNS power cuts of the active with a held connection"
    lab_up "$@"
    for ((i = 1; i <= HELD_RUNS; i++)); do
        # The service answers first (seen: right after lab up the VIP was there before the director's
        # table, and the hold was refused).
        end=$((SECONDS + 10))
        until labc client spread 1 >/dev/null 2>&1; do
            ((SECONDS < end)) || die "$tag run $i: the service does not answer"
            sleep 0.1
        done
        active=$(lab_vip_holder); [[ -n $active ]] || die "$tag run $i: nobody holds the VIP"
        standby=$(other_of "$active")
        ns="NS_$standby"; conf="$LAB_DIR/$standby-state/conntrackd.conf"
        labc client hold "$HELD_S" --timeout "$HELD_TIMEOUT" >"$TMP/held.out" 2>&1 &
        hold_pid=$!
        held_wait_connected "$TMP/held.out"
        end=$((SECONDS + 10))
        until ip netns exec "${!ns}" conntrackd -C "$conf" -e 2>/dev/null | grep -q "ESTABLISHED src=$ADDR_client dst=$VIP "; do
            ((SECONDS < end)) || die "$tag run $i: $standby's conntrackd never cached the held connection"
            sleep 0.05
        done
        sleep 0.8
        labc power off "$active" >/dev/null
        # Never a vacuous run (one fencing-required run showed an 80 ms worst stall): the VIP must move.
        end=$((SECONDS + 15))
        until [[ $(lab_vip_holder) == "$standby" ]]; do
            ((SECONDS < end)) || die "$tag run $i: the VIP did not move to $standby after $active lost power"
            sleep 0.02
        done
        wait "$hold_pid" || true
        held_parse "$TMP/held.out" "$tag" "$i"
        labc power on "$active" >/dev/null || true
        sleep 0.2
        if [[ $(cat "$LAB_DIR/power-$active") == off ]]; then labc ctl "$standby" fence on "$active" >/dev/null || true; fi
        end=$((SECONDS + 20))
        local sock="CONTROL_$active"
        until [[ -S ${!sock} ]] && links_up "$CONTROL_alpha" && links_up "$CONTROL_beta"; do
            ((SECONDS < end)) || die "$tag run $i: $active did not come back within 20 s"
            sleep 0.1
        done
        sleep 1 # the booted node's conntrackd is up and resynced before the next connection
    done
    lab_down "held-${tag// /-}"
}

# --- keepalived + conntrackd (kactpair)
held_ka() {
    local tag="keepalived+conntrackd" dir i active standby client hold_pid end
    log "  $tag: $HELD_RUNS power cuts of the master with a held connection"
    dir=$(mktemp -d "$TMP/kact.XXXX"); KACT_DIRS+=("$dir")
    "$KACT" up "$dir" 0.05 || die "kactpair up failed"
    client=$("$KACT" ns "$dir" client)
    end=$((SECONDS + 10))
    until [[ -n $("$KACT" master "$dir") ]]; do ((SECONDS < end)) || die "no keepalived master"; sleep 0.1; done
    sleep 1
    for ((i = 1; i <= HELD_RUNS; i++)); do
        active=$("$KACT" master "$dir"); [[ -n $active ]] || die "$tag run $i: nobody holds the VIP"
        standby=$(other_of "$active")
        ip netns exec "$client" "$BIN/appliance-lab" client hold 192.168.82.10:80 "$HELD_S" --timeout "$HELD_TIMEOUT" >"$TMP/held.out" 2>&1 &
        hold_pid=$!
        held_wait_connected "$TMP/held.out"
        end=$((SECONDS + 10))
        until "$KACT" cached "$dir" "$standby" 192.168.82.100; do
            ((SECONDS < end)) || die "$tag run $i: $standby's conntrackd never cached the held connection"
            sleep 0.05
        done
        sleep 0.8
        "$KACT" kill "$dir" "$active"
        end=$((SECONDS + 15))
        until [[ $("$KACT" master "$dir") == "$standby" ]]; do
            ((SECONDS < end)) || die "$tag run $i: the VIP did not move to $standby"
            sleep 0.02
        done
        wait "$hold_pid" || true
        held_parse "$TMP/held.out" "$tag" "$i"
        "$KACT" boot "$dir" "$active"
        sleep 2 # keepalived back as backup (nopreempt), its conntrackd resynced
    done
    cp "$dir"/*.log "$OUT/logs/" 2>/dev/null || true
    "$KACT" down "$dir"
}

section_held() {
    log "held: a held connection across a power cut of the active, $HELD_RUNS runs per implementation"
    : >"$TMP/held.tsv"
    command -v keepalived >/dev/null || die "keepalived is not installed (the failover section installs it)"
    [[ -x /usr/sbin/conntrackd ]] || die "conntrackd is not installed (scripts/install-deps.sh bench)"
    held_ours "ours, fencing off" --fencing off --keepalive 50ms --deadtime 250ms
    held_ours "ours, fencing required" --fencing required --fence relay --keepalive 50ms --deadtime 250ms \
        --fence-delay 300ms --fence-delay-random 200ms
    held_ka
    {
        echo "## Held connection across a power cut of the active (section held)"
        echo
        echo "One TCP connection through the VIP to a real server (NAT, round robin over three), a line every"
        echo "100 ms for ${HELD_S} s, each answer awaited up to ${HELD_TIMEOUT}; the active node's power is cut 0.8 s"
        echo "after the standby's conntrackd has the connection in its external cache. Stall = the largest"
        echo "round trip of the hold. ${HELD_RUNS} runs each; the cut node comes back as standby between runs."
        echo "Ours: the lab with director.sync (daemon-supervised conntrackd, commit before the VIPs, guard rule),"
        echo "keepalive 50 ms / deadtime 250 ms. keepalived 2.2.7: tests/bench/kactpair, VRRPv3 advert_int 0.05,"
        echo "notify script = conntrack-tools' primary-backup.sh (VIPs first, then \`conntrackd -c\`), no guard."
        echo
        echo "Median, worst and best are over the runs that survived; a lost run shows how it ended."
        echo
        echo "| implementation | survived | median worst stall (ms) | worst (ms) | best (ms) | per run (ms) |"
        echo "|---|---|---|---|---|---|"
        local impl n s
        for impl in "ours, fencing off" "ours, fencing required" "keepalived+conntrackd"; do
            awk -F'\t' -v i="$impl" '$1 == i' "$TMP/held.tsv" >"$TMP/held-$$.tsv"
            n=$(wc -l <"$TMP/held-$$.tsv")
            s=$(awk -F'\t' '$6 == "survived"' "$TMP/held-$$.tsv" | wc -l)
            awk -F'\t' '$6 == "survived" {print $3}' "$TMP/held-$$.tsv" >"$TMP/held-ok-$$.txt"
            read -r _ med min max <<<"$(stats "$TMP/held-ok-$$.txt" 1)"
            echo "| $impl | $s/$n | $med | $max | $min | $(awk -F'\t' '{printf "%s%s", (NR > 1 ? " " : ""), ($6 == "survived" ? int($3 + 0.5) : $3 "(" $6 ")")}' "$TMP/held-$$.tsv") |"
        done
        echo
    } >"$R_HELD"
}
