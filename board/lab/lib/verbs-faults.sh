# shellcheck shell=bash
# board/lab/lib/verbs-faults.sh: sourced by board/lab/lab. The verbs that break things (and mend
# them): cut|heal serial|udp|all, freeze|thaw NODE, power off|on NODE, pdu fault ..., relay
# break|fix NODE, service stop|start NODE, noise NODE SECONDS.

# The argument of cut and heal: serial|udp|all.
parse_what() {
    case "${1:-}" in
        serial|udp|all) ;;
        '') usage_error "missing serial|udp|all" ;;
        *) usage_error "unknown link kind '$1' (serial|udp|all)" ;;
    esac
    (($# == 1)) || usage_error "too many arguments"
}

# cut serial|udp|all (idempotent)
cmd_cut() {
    parse_what "$@"
    require_up
    if [[ $1 == serial || $1 == all ]]; then serial_cut; fi
    if [[ $1 == udp || $1 == all ]]; then udp_cut; fi
}

# heal serial|udp|all (idempotent)
cmd_heal() {
    parse_what "$@"
    require_up
    if [[ $1 == serial || $1 == all ]]; then serial_heal; fi
    if [[ $1 == udp || $1 == all ]]; then udp_heal; fi
}

# freeze NODE (cmd_signal STOP NODE) and thaw NODE (cmd_signal CONT NODE).
cmd_signal() {
    local sig=$1
    shift
    check_node "${1:-}"
    (($# == 1)) || usage_error "too many arguments"
    require_up
    local pid pids
    pid=$(daemon_pid "$1")
    [[ -n $pid ]] || die "applianced on $1 is not running"
    # Freeze the whole box, not one process: every process in the node's namespace (the daemon,
    # its heartbeat worker, any service it runs). The daemon itself first on STOP, last on CONT.
    pids=$(ip netns pids "$(ns_of "$1")" 2>/dev/null | grep -vx "$pid" || true)
    # shellcheck disable=SC2086 # $pids is a list of PIDs
    if [[ $sig == STOP ]]; then
        kill "-$sig" "$pid"
        [[ -z $pids ]] || kill "-$sig" $pids 2>/dev/null || true
    else
        [[ -z $pids ]] || kill "-$sig" $pids 2>/dev/null || true
        kill "-$sig" "$pid"
    fi
}

# power off|on NODE: pull or plug in the cord, then wait (2 s) for the rail to follow.
cmd_power() {
    (($# == 2)) || usage_error "usage: $PROG power off|on NODE"
    check_node "$2"
    require_up
    local n=$2 want t
    case $1 in
        off) echo 0 >"$DIR/plug-$n"; want=off ;;
        on) echo 1 >"$DIR/plug-$n"; want=on ;;
        *) usage_error "usage: $PROG power off|on NODE" ;;
    esac
    for ((t = 0; t < 200; t++)); do
        if [[ $(power_state "$n") == "$want" ]]; then echo "$n power $want"; return 0; fi
        if [[ $want == on ]]; then
            cut_reasons "$n"
            if [[ -n $REPLY ]]; then echo "$n is plugged in but stays off: $REPLY"; return 0; fi
        fi
        sleep 0.01
    done
    die "the power rail did not switch $n $want within 2 s (see $DIR/rail.log)"
}

# pdu fault silent|slow|garbage|liar|none: both PDU simulators read $DIR/pdu.fault.
cmd_pdu() {
    [[ $# == 2 && ${1:-} == fault ]] || usage_error "usage: $PROG pdu fault silent|slow|garbage|liar|none"
    case $2 in silent|slow|garbage|liar|none) ;; *) usage_error "pdu fault: silent|slow|garbage|liar|none, not '$2'" ;; esac
    require_up
    echo "$2" >"$DIR/pdu.fault"
    echo "PDU fault: $2"
}

# relay break NODE: another holder takes the relay line that fences NODE (as a driver that failed
# to release it would), so applianced's line request fails with EBUSY. fix: let it go.
cmd_relay() {
    (($# == 2)) || usage_error "usage: $PROG relay break|fix NODE"
    check_node "$2"
    require_up
    local n=$2 line pid
    line="$DIR/gpio-${PEER[$2]}/line0"
    pid=$(read_pid "$DIR/relay-break-$n.pid")
    case $1 in
        break)
            if pid_matches "$pid" "sleep"; then echo "relay for $n already broken"; return 0; fi
            spawn "$NS_SW" "$DIR/relay-break-$n.pid" "$DIR/rail.log" flock -n -F "$line" sleep 100000 \
                || die "could not take the relay line $line"
            sleep 0.1
            pid=$(read_pid "$DIR/relay-break-$n.pid")
            pid_matches "$pid" "sleep" || die "could not take the relay line $line (is applianced holding it already?)"
            echo "relay for $n broken: $line held by pid $pid" ;;
        fix)
            if pid_matches "$pid" "sleep"; then kill "$pid"; fi
            rm -f "$DIR/relay-break-$n.pid"
            echo "relay for $n fixed" ;;
        *) usage_error "usage: $PROG relay break|fix NODE" ;;
    esac
}

# service stop|start NODE: the node's service on $PORT goes away or comes back (the lab's monitor
# watches it, so stopping it on the active node moves the VIP).
cmd_service() {
    (($# == 2)) || usage_error "usage: $PROG service stop|start NODE"
    check_node "$2"
    require_up
    local n=$2 p
    case $1 in
        stop)
            for p in $(ip netns pids "$(ns_of "$n")" 2>/dev/null); do
                [[ $(cmdline_of "$p") == *" serve $n $PORT "* ]] && kill "$p" 2>/dev/null
            done
            echo "service on $n stopped" ;;
        start)
            start_service "$n"
            echo "service on $n started" ;;
        *) usage_error "usage: $PROG service stop|start NODE" ;;
    esac
}

# Noise goes INTO node's end of the cable, i.e. interleaved with NODE's own transmissions:
# the PEER's receiver sees it. 128-byte bursts every ~10 ms: about 10 kB/s (115200 baud is 11.5 kB/s).
cmd_noise() {
    check_node "${1:-}"
    (($# == 2)) || usage_error "usage: $PROG noise NODE SECONDS"
    [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "noise: SECONDS must be a number, got '$2'"
    require_up
    local n=$1 tty="$DIR/tty-$1" secs us end bytes=0
    [[ -e $tty ]] || die "no serial cable end $tty"
    secs=$2
    # microseconds without floating point: integer part and up to 6 fractional digits
    local ip=${secs%%.*} fp=''
    [[ $secs == *.* ]] && fp=${secs#*.}
    fp=${fp}000000
    us=$((10#$ip * 1000000 + 10#${fp:0:6}))
    now_us; end=$((REPLY + us))
    while now_us; ((REPLY < end)); do
        # nonblock: a cut cable (stopped socat) must not hang us; noctty: never acquire it.
        if dd if=/dev/urandom of="$tty" bs=128 count=1 oflag=noctty,nonblock status=none 2>/dev/null; then
            bytes=$((bytes + 128))
        fi
        sleep 0.01
    done
    echo "noise: wrote $bytes random bytes into $n's end of the serial cable (seen by ${PEER[$n]}) in ${secs}s"
}
