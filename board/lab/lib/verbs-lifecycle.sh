# shellcheck shell=bash
# board/lab/lib/verbs-lifecycle.sh: sourced by board/lab/lab. The verbs that build and remove a
# lab: up (options, timer defaults, no half state on failure), down (teardown: works after a
# crash, with or without the state dir) and restart NODE.

# ---------------------------------------------------------------- up

# up [options]: parse the options, derive the missing timers, then build the lab (lock held;
# on any failure the EXIT trap tears down what was built).
cmd_up() {
    local k='' w='' d='' i='' fencing=off failback=false extra='' opt val fence='' fdelay='' frandom='' sched=rr weights=''
    while (($# > 0)); do
        opt=$1
        if [[ $opt == --*=* ]]; then val=${opt#*=}; opt=${opt%%=*}; shift
        else
            case "$opt" in
                --keepalive|--warntime|--deadtime|--initdead|--fencing|--auto-failback|--config-extra|--resource|--sync|--fence|--fence-delay|--fence-delay-random|--scheduler|--weights|--panel|--baud)
                    (($# >= 2)) || usage_error "up: $opt needs a value"
                    val=$2; shift 2 ;;
                *) usage_error "up: unknown option '$opt'" ;;
            esac
        fi
        case "$opt" in
            --keepalive|--warntime|--deadtime|--initdead)
                parse_ms "$val" || usage_error "up: $opt: bad duration '$val' (e.g. 20ms, 1s, 1.5s)"
                case "$opt" in
                    --keepalive) k=$REPLY ;; --warntime) w=$REPLY ;;
                    --deadtime) d=$REPLY ;; --initdead) i=$REPLY ;;
                esac ;;
            --fencing)
                [[ $val == off || $val == required ]] || usage_error "up: --fencing off|required"
                fencing=$val ;;
            --fence)
                [[ $val =~ ^(relay|pdu|manual)(,(relay|pdu|manual))*$ ]] || usage_error "up: --fence takes a list of relay, pdu, manual, like relay,pdu"
                fence=$val ;;
            --fence-delay|--fence-delay-random)
                if [[ $val == 0 || $val == 0ms ]]; then REPLY=0; else parse_ms "$val" || usage_error "up: $opt: bad duration '$val'"; fi
                if [[ $opt == --fence-delay ]]; then fdelay=$REPLY; else frandom=$REPLY; fi ;;
            --sync)
                [[ $val == on || $val == off ]] || usage_error "up: --sync on|off"
                LAB_SYNC=$val ;;
            --auto-failback)
                [[ $val == true || $val == false ]] || usage_error "up: --auto-failback true|false"
                failback=$val ;;
            --baud)
                [[ $val =~ ^(1200|2400|4800|9600|19200|38400|57600|115200|230400|460800|921600)$ ]] \
                    || usage_error "up: --baud takes a standard rate, 1200 to 921600 (like 115200)"
                LAB_BAUD=$val ;;
            --panel)
                [[ $val == on || $val == off ]] || usage_error "up: --panel on|off"
                # shellcheck disable=SC2034 # read by panel_config (verbs-panel.sh)
                LAB_PANEL=$val ;;
            --config-extra)
                [[ -r $val ]] || usage_error "up: --config-extra: cannot read '$val'"
                extra=$(readlink -f "$val") ;;
            --scheduler)
                [[ $val =~ ^(rr|wrr|sh|random)$ ]] || usage_error "up: --scheduler rr|wrr|sh|random"
                sched=$val ;;
            --weights)
                [[ $val =~ ^[0-9]{1,3}(,[0-9]{1,3}){0,2}$ ]] || usage_error "up: --weights takes up to 3 weights (rs1,rs2,rs3), like 1,2,3"
                weights=$val ;;
            --resource)
                [[ $val == \{*\} ]] || usage_error "up: --resource takes a YAML flow map, like '{name: d, kind: ocf, agent: heartbeat:Dummy}'"
                EXTRA_RESOURCES+=("$val") ;;
            *) usage_error "up: unknown option '$opt'" ;;
        esac
    done

    # Derived timer defaults (documented in help).
    if [[ -z $k ]]; then
        if [[ -n $d ]]; then k=$((d / 5 < DEF_KEEPALIVE ? d / 5 : DEF_KEEPALIVE)); else k=$DEF_KEEPALIVE; fi
        ((k > 0)) || k=1
    fi
    if [[ -z $d ]]; then
        d=$((5 * k))
        if [[ -n $w ]] && ((d <= w)); then d=$((w + 2 * k)); fi
    fi
    if [[ -z $w ]]; then
        if ((3 * k < d)); then w=$((3 * k)); else w=$(((k + d) / 2)); fi
    fi
    if [[ -z $i ]]; then
        i=$((10 * d)); ((i >= 2000)) || i=2000
    fi
    ((k < w && w < d)) || usage_error "up: timers need keepalive < warntime < deadtime (got $(fmt_ms "$k") $(fmt_ms "$w") $(fmt_ms "$d"))"
    ((d > 2 * k)) || usage_error "up: timers need deadtime > 2 x keepalive (got $(fmt_ms "$k"), $(fmt_ms "$d"))"
    ((i >= d)) || usage_error "up: timers need initdead >= deadtime (got $(fmt_ms "$i"), $(fmt_ms "$d"))"
    if [[ -z $fence && $fencing == required ]]; then fence=relay,pdu; fi
    [[ -x $LABTOOL ]] || die "appliance-lab (the VIP's service, the PDU simulator) not found: $LABTOOL (build first, or set APPLIANCE_LAB)"

    [[ -x $DAEMON ]] || die "daemon not found: $DAEMON (build first, or set APPLIANCE_BIN / APPLIANCED)"
    [[ -x $CTL ]] || die "appliancectl not found: $CTL (build first, or set APPLIANCE_BIN / APPLIANCECTL)"
    command -v socat >/dev/null || die "socat is not installed"
    command -v nft >/dev/null || die "nft (nftables) is not installed"
    # The daemon runs /usr/sbin/conntrackd (ConntrackdSupervisor.Program) when director.sync is set.
    [[ $LAB_SYNC == off || -x /usr/sbin/conntrackd ]] || die "conntrackd is not installed (scripts/install-deps.sh test), or use up --sync off"

    lock
    if [[ -e $DIR/$MARKER ]] || [[ -n $(lab_namespaces) ]]; then
        die "lab '$LAB_NAME' is already up (or left over from a crash): run '$PROG down' first"
    fi
    if [[ -e $DIR && -n $(ls -A "$DIR" 2>/dev/null) ]]; then
        die "state dir $DIR exists, is not empty and is not a lab's: remove it or set LAB_DIR"
    fi

    # From here on, any failure (set -e included) tears down what was built: no half state.
    UP_DONE=0
    trap 'up_exit' EXIT
    trap 'exit 130' INT TERM HUP

    (umask 077 && mkdir -p "$DIR")
    echo "$LAB_NAME" >"$DIR/$MARKER"
    (umask 077 && head -c 32 /dev/urandom >"$DIR/authkey")
    chmod 600 "$DIR/authkey"
    write_config "$k" "$w" "$d" "$i" "$fencing" "$failback" "$extra" "$fence" "$fdelay" "$frandom" "$sched" "$weights"

    build_network
    build_power "$fence"

    start_serial_cable
    local n

    for n in "${NODES[@]}"; do start_service "$n" || up_fail "could not start the service on $n"; done
    for n in "${REAL_SERVERS[@]}" "$SORRY"; do start_rs "$n" || up_fail "could not start the real server $n"; done
    for n in "${NODES[@]}"; do start_daemon "$n" || up_fail "could not start the daemons"; done
    wait_sockets "${NODES[@]}" || up_fail "the daemons did not come up"

    UP_DONE=1
    trap - EXIT INT TERM HUP
    echo "lab '$LAB_NAME' up: alpha pid $(daemon_pid alpha), beta pid $(daemon_pid beta);" \
        "timers $(fmt_ms "$k")/$(fmt_ms "$w")/$(fmt_ms "$d")/$(fmt_ms "$i"), fencing $fencing${fence:+ via $fence}, sync $LAB_SYNC; state in $DIR"
}

# The EXIT trap of up: unless up finished, tear down.
up_exit() { ((UP_DONE)) || up_failed; }

up_failed() {
    trap - EXIT INT TERM HUP
    echo "$PROG: up failed; tearing down" >&2
    teardown >/dev/null 2>&1 || true
}

# Fail inside up: the EXIT trap tears down.
up_fail() { echo "$PROG: $*" >&2; exit 1; }

# ---------------------------------------------------------------- down

# Kill what we started and remove every trace. Works with no state dir at all.
teardown() {
    local n ns pid pids=()
    # The rail first, or it would boot what is being stopped.
    pid=$(read_pid "$DIR/rail.pid")
    if pid_matches "$pid" "_rail"; then stop_pids "$pid"; fi
    for n in "${NODES[@]}"; do
        pid=$(daemon_pid "$n")
        [[ -n $pid ]] && pids+=("$pid")
    done
    pid=$(socat_pid)
    [[ -n $pid ]] && pids+=("$pid")
    stop_pids "${pids[@]}"

    # Anything still living in our namespaces (pidfiles lost, 'lab client' servers, ...):
    # processes in apl-$LAB_NAME-* namespaces can only be ours.
    pids=()
    for ns in $(lab_namespaces); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$pid"); done
    done
    stop_pids "${pids[@]}"

    for ns in $(lab_namespaces); do
        ip netns del "$ns" 2>/dev/null || echo "$PROG: could not delete namespace $ns" >&2
    done
    remove_state_dir
}

remove_state_dir() {
    [[ -e $DIR ]] || return 0
    if [[ -e $DIR/$MARKER ]]; then
        rm -rf -- "$DIR"
    else
        # Not marked as ours (LAB_DIR points somewhere else?): remove only what up creates.
        local n
        rm -f -- "$DIR/authkey" "$DIR/appliance.yaml" "$DIR/socat.pid" "$DIR/socat.log" \
            "$DIR/tty-alpha" "$DIR/tty-beta"
        for n in "${NODES[@]}"; do
            rm -rf -- "$DIR/$n.pid" "$DIR/$n.log" "$DIR/$n.sock" "$DIR/$n-state" "$DIR/board-$n.yaml"
        done
        rmdir -- "$DIR" 2>/dev/null || echo "$PROG: left $DIR in place (not created by $PROG, not empty)" >&2
    fi
}

# down: idempotent, exit 0.
cmd_down() {
    (($# == 0)) || usage_error "down takes no arguments"
    lock
    teardown
    echo "lab '$LAB_NAME' down"
}

# ---------------------------------------------------------------- restart

# restart NODE: a new boot of its applianced (the rest of the node keeps running).
cmd_restart() {
    check_node "${1:-}"
    (($# == 1)) || usage_error "too many arguments"
    require_up
    lock
    local n=$1 pid
    pid=$(daemon_pid "$n")
    [[ -n $pid ]] && stop_pids "$pid"
    boot_daemon "$n" restart
    echo "applianced on $n restarted: pid $(daemon_pid "$n")"
}

# Starts NODE's daemon afresh and waits for its socket (VERB names the verb in the error).
boot_daemon() {
    rm -f "$(sock_of "$1")"
    start_daemon "$1" || die "$2 of $1 failed"
    wait_sockets "$1" || die "$2 of $1 failed"
}

# stop NODE: what `systemctl stop` does: SIGTERM, then wait for the daemon to exit (a planned
# switchover: it hands its resources to the peer and says goodbye), KILL after 3 s.
cmd_stop() {
    check_node "${1:-}"
    (($# == 1)) || usage_error "too many arguments"
    require_up
    lock
    local n=$1 pid
    pid=$(daemon_pid "$n")
    [[ -n $pid ]] || die "applianced on $n is not running"
    stop_pids "$pid"
    echo "applianced on $n stopped"
}

# start NODE: start a stopped daemon again (a new boot).
cmd_start() {
    check_node "${1:-}"
    (($# == 1)) || usage_error "too many arguments"
    require_up
    lock
    local n=$1
    [[ -z $(daemon_pid "$n") ]] || die "applianced on $n is already running"
    boot_daemon "$n" start
    echo "applianced on $n started: pid $(daemon_pid "$n")"
}
