# shellcheck shell=bash
# tests/bench/panel.sh: sourced by run-bench.sh (section "panel"); shares its helpers and traps.
#
# The front panel must never disturb the heartbeat (issue 11): the panel thread samples its buttons
# and rewrites the LCD (a two-row rewrite through the HD44780 binding blocks tens of ms) in the
# daemon, while the keepalives go out from the heartbeat worker process. Three windows of
# PANEL_S seconds each at keepalive 20ms / deadtime 100ms, each on a fresh lab, read alpha's
# `.heartbeat.worst_send_gap_us` over the window (reset-cadence at its start), and how often alpha's
# idle panel thread woke in the 3 s before it (issue 11: buttons on edge events, no 20 ms sampling):
#   no panel    `up --panel off`: the board without a panel (what the heartbeat had before the panel)
#   panel busy  the panel on, a button pressed on alpha all window long (each press changes the
#               screen, so the LCD is rewritten several times a second)
#   dead LCD    the same presses, with the LCD's E line held by another process from before alpha
#               started: every LCD open fails (the panel logs it, shows it in status, retries)
# Knob: BENCH_PANEL_SECONDS (default BENCH_LOAD_SECONDS).

PANEL_S=${BENCH_PANEL_SECONDS:-$LOAD_S}
R_PANEL=$TMP/r-panel.md
: >"$R_PANEL"

# panel_presses NODE SECONDS: presses next and prev alternately on NODE until SECONDS have passed;
# prints how many presses were made. Bounded by its own clock, so it ends on its own.
panel_presses() {
    local n=$1 end=$((SECONDS + $2)) i=0
    while ((SECONDS < end)); do
        if ((i % 2 == 0)); then labc press "$n" next >/dev/null; else labc press "$n" prev >/dev/null; fi || return 1
        i=$((i + 1))
    done
    echo "$i"
}

# panel_wakeups NODE SECONDS: how often NODE's panel thread woke (its voluntary context switches,
# /proc/PID/task/TID/status) per second over SECONDS while nothing is pressed; "-" without a panel.
panel_wakeups() {
    local pid tid t v0 v1
    pid=$(cat "$LAB_DIR/$1.pid" 2>/dev/null) || { sleep "$2"; echo -; return; }
    tid=''
    for t in /proc/"$pid"/task/*; do
        if [[ $(cat "$t/comm" 2>/dev/null) == panel ]]; then tid=${t##*/}; break; fi
    done
    [[ -n $tid ]] || { sleep "$2"; echo -; return; }
    v0=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$pid/task/$tid/status")
    sleep "$2"
    v1=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$pid/task/$tid/status")
    awk -v a="$v0" -v b="$v1" -v s="$2" 'BEGIN {printf "%.1f", (b - a) / s}'
}

# panel_window TAG MODE: MODE off|busy|dead. Appends TAG|gap|wake|presses|beta dead|beta late|lcd_error|panel wake-ups.
panel_window() {
    local tag=$1 mode=$2 j gap wake lb presses=0 bdead blate lcd_error='' holder='' wakeups
    if [[ $mode == off ]]; then lab_up --keepalive 20ms --deadtime 100ms --panel off
    else lab_up --keepalive 20ms --deadtime 100ms --panel on
    fi
    if [[ $mode == dead ]]; then
        # Another holder of the LCD's E line (offset 9, lib/verbs-panel.sh) from before alpha starts:
        # the sim chip refuses a line another process holds, as the kernel does (EBUSY).
        labc stop alpha >/dev/null || die "panel: lab stop alpha failed"
        flock -n -F "$LAB_DIR/gpio-alpha/line9" sleep $((PANEL_S + 60)) &
        holder=$!
        sleep 0.5
        labc start alpha >/dev/null || die "panel: lab start alpha failed"
        "$BT" wait "$(now_ns)" 15000 20 up "$CONTROL_alpha" "$CONTROL_beta" >/dev/null \
            || die "panel: the peers did not see each other within 15 s of alpha's restart"
    fi
    # Settle, counting the idle panel thread's wake-ups meanwhile.
    wakeups=$(panel_wakeups alpha 3)
    "$BT" query "$CONTROL_alpha" '{"cmd":"reset-cadence"}' >/dev/null || die "reset-cadence failed"
    lb=$(nlines "$LOG_beta")
    if [[ $mode == off ]]; then
        sleep "$PANEL_S"
    else
        presses=$(panel_presses alpha "$PANEL_S") || die "panel: lab press failed"
    fi
    j=$(status_of "$CONTROL_alpha")
    gap=$(json_num "$j" worst_send_gap_us)
    wake=$(json_num "$j" worst_wake_delay_us)
    bdead=$(count_after "$LOG_beta" "$lb" 'peer alpha dead')
    blate=$(count_after "$LOG_beta" "$lb" 'peer alpha late')
    if [[ $mode == dead ]]; then
        lcd_error=$(grep -o '"lcd_error":"[^"]*"' <<<"$j" | head -n 1)
        lcd_error=${lcd_error#\"lcd_error\":\"}
        lcd_error=${lcd_error%\"}
        [[ -n $lcd_error ]] || die "panel: alpha's status shows no LCD error while its E line is held"
        kill "$holder" 2>/dev/null || true
        wait "$holder" 2>/dev/null || true
    fi
    lab_down "panel-$mode"
    echo "$tag|$gap|$wake|$presses|$bdead|$blate|$lcd_error|$wakeups" >>"$TMP/panel.txt"
    log "  -> $tag: worst send gap ${gap}us, worst wake delay ${wake}us, $presses presses; beta: alpha dead $bdead, late $blate; panel thread idle ${wakeups}/s"
}

section_panel() {
    log "panel: keepalive 20ms / deadtime 100ms, ${PANEL_S}s windows: no panel, panel busy, dead LCD"
    : >"$TMP/panel.txt"
    panel_window "no panel (\`up --panel off\`)" off
    panel_window "panel busy (buttons pressed all window)" busy
    panel_window "dead LCD (E line held elsewhere) + presses" dead
    local base
    base=$(awk -F'|' 'NR == 1 {print $2}' "$TMP/panel.txt")
    {
        echo "## Front panel and heartbeat cadence"
        echo
        echo "Lab at keepalive 20ms / deadtime 100ms; one fresh lab per window of ${PANEL_S} s; \`reset-cadence\` on"
        echo "alpha at its start, then alpha's \`.heartbeat.worst_send_gap_us\` (longest interval between two"
        echo "consecutive keepalive sends) and \`.heartbeat.worst_wake_delay_us\`. Presses: \`lab press alpha"
        echo "next|prev\` back to back (each changes the LCD screen: a two-row rewrite). Dead LCD: the LCD's E"
        echo "line held by another process (flock on the simulated chip's line) from before alpha started."
        echo "Limit: worst gap ≤ 2 × keepalive = 40 ms. Panel wake-ups: alpha's panel thread, idle (the 3 s before"
        echo "the window, in the role's first minute, when the LCD counts seconds), voluntary context switches a second."
        echo
        echo "| window | worst send gap (µs) | vs no panel | worst wake delay (µs) | presses | beta: \"peer alpha dead\" / late | alpha's panel.lcd_error | panel wake-ups/s idle |"
        echo "|---|---|---|---|---|---|---|---|"
        local tag gap wake presses bd bl err ratio wk
        while IFS='|' read -r tag gap wake presses bd bl err wk; do
            ratio=$(awk -v g="$gap" -v b="$base" 'BEGIN {if (g == "" || b == "" || b == 0) print "?"; else printf "%.2f", g / b}')
            echo "| $tag | $gap | $ratio | $wake | $presses | $bd / $bl | ${err:--} | ${wk:--} |"
        done <"$TMP/panel.txt"
        echo
    } >"$R_PANEL"
}
