# shellcheck shell=bash
# board/lab/lib/power.sh: sourced by board/lab/lab. The simulated power rail. NODE's supply runs
# through its plug ($DIR/plug-NODE, `lab power off|on`), through a relay on line 0 of its PEER's
# simulated GPIO chip ($DIR/gpio-PEER/line0, named RELAY_NODE) and through outlet OUTLET[NODE] of
# the PDU simulator on its PEER's serial port ($DIR/pdu-PEER.tty, state in $DIR/pdu-PEER.state).
# The rail process (`lab _rail`, in the switch namespace) makes each node's power follow them:
# on a cut it kills everything on the node, on return it boots it. $DIR/power-NODE says on|off.

# The power rail's parts: a simulated GPIO chip per node (line 0 is the relay in the PEER's
# supply), a PDU simulator on each node's serial port, a plug per node, and the rail process
# that makes each node's power follow them.
build_power() {
    local n t
    for n in "${NODES[@]}"; do
        mkdir -p "$DIR/gpio-$n"
        panel_chip_names "$n" >"$DIR/gpio-$n/names"   # the relay on line 0, then the panel (verbs-panel.sh)
        printf '0\n' >"$DIR/gpio-$n/line0"
        write_panel_board "$n"
        echo 1 >"$DIR/plug-$n"
        echo on >"$DIR/power-$n"
    done
    echo none >"$DIR/pdu.fault"
    if [[ $1 == *pdu* ]]; then
        for n in "${NODES[@]}"; do
            spawn "$NS_SW" "$DIR/pdu-$n.pid" "$DIR/pdu-$n.log" "$LABTOOL" pdusim --link "$DIR/pdu-$n.tty" \
                --state "$DIR/pdu-$n.state" --fault-file "$DIR/pdu.fault" --toggle-off 1s \
                || up_fail "the PDU simulator for $n did not start"
        done
        for ((t = 0; t < 100; t++)); do
            [[ -e $DIR/pdu-alpha.tty && -e $DIR/pdu-beta.tty && -e $DIR/pdu-alpha.state && -e $DIR/pdu-beta.state ]] && break
            sleep 0.05
        done
        [[ -e $DIR/pdu-alpha.tty && -e $DIR/pdu-beta.tty ]] || up_fail "the PDU simulators did not create their ptys"
    fi
    spawn "$NS_SW" "$DIR/rail.pid" "$DIR/rail.log" "$SELF" _rail || up_fail "the power rail did not start"
}

# on | off: NODE's power as the rail last switched it.
power_state() { local v=on; if [[ -r $DIR/power-$1 ]]; then read -r v <"$DIR/power-$1" || true; fi; echo "${v:-on}"; }

# Why NODE's supply is cut, in REPLY (empty: it is not): its plug, the relay on its peer's chip,
# the PDU outlet on its peer's serial port.
cut_reasons() {
    local n=$1 p=${PEER[$1]} v o st why=''
    v=1; if [[ -r $DIR/plug-$n ]]; then read -r v <"$DIR/plug-$n" || true; fi
    [[ $v == 0 ]] && why="plug pulled"
    v=0; if [[ -r $DIR/gpio-$p/line0 ]]; then read -r v <"$DIR/gpio-$p/line0" || true; fi
    [[ $v == 1 ]] && why+="${why:+, }relay RELAY_${n^^} on $p's chip"
    if [[ -r $DIR/pdu-$p.state ]]; then
        while read -r o st; do
            [[ $o == "${OUTLET[$n]}" && $st == off ]] && why+="${why:+, }PDU outlet $o on $p's serial port"
        done <"$DIR/pdu-$p.state"
    fi
    REPLY=$why
}

# Power off: what pulling the plug does to a box. Every process in the node's namespace dies at
# once (SIGKILL), its links go down and their addresses (the VIPs too) vanish with the kernel, and
# so does its nft table inet appliance (the director's).
power_cut() {
    local n=$1 ns pids
    ns=$(ns_of "$n")
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086 # a list of PIDs
    [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
    local dev
    for dev in eth0 in0 sync0; do
        ip -n "$ns" link set "$dev" down 2>/dev/null || true
        ip -n "$ns" addr flush dev "$dev" 2>/dev/null || true
    done
    # The kernel's ruleset dies with the box too (the director loads its table again at boot).
    ip netns exec "$ns" nft delete table inet appliance 2>/dev/null || true
}

# Power on: the box boots: its address and link come back, its service and applianced start.
power_boot() {
    local n=$1 ns
    ns=$(ns_of "$n")
    ip -n "$ns" addr add "${ADDR[$n]}/24" dev eth0 2>/dev/null || true
    ip -n "$ns" link set eth0 up
    inside_links_up "$n"
    rm -f "$(sock_of "$n")"
    start_service "$n"
    start_daemon "$n" || echo "$PROG rail: applianced on $n did not start" >&2
    disown -a # the node's processes are its own; their death at the next power cut is no news
}

# The rail (internal verb, started by up in the switch namespace): every 5 ms, each node's power
# follows its plug, relay and outlet. It reads files with builtins and sleeps on a read timeout,
# so while nothing changes it forks nothing.
cmd_rail() {
    local n want sleeper
    declare -A power=([alpha]=on [beta]=on)
    exec {sleeper}<> <(:)
    while [[ -e $DIR/$MARKER ]]; do
        for n in "${NODES[@]}"; do
            cut_reasons "$n"
            if [[ -n $REPLY ]]; then want=off; else want=on; fi
            [[ $want == "${power[$n]}" ]] && continue
            power[$n]=$want
            # when the rail switched, in ns since the epoch (no fork), for benchmarks
            echo "${EPOCHREALTIME/[.,]/}000" >"$DIR/power-$n.at"
            echo "$(date '+%T.%3N') $n power $want${REPLY:+ ($REPLY)}"
            if [[ $want == off ]]; then power_cut "$n"; else power_boot "$n"; fi
            echo "$want" >"$DIR/power-$n"
        done
        read -r -t 0.005 -u "$sleeper" || true
    done
}
