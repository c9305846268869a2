# shellcheck shell=bash
# board/lab/lib/verbs-inspect.sh: sourced by board/lab/lab. The verbs that look at a lab or reach
# into it: status [--json], env, logs NODE [-f], watch, ctl NODE ARGS... (appliancectl on that
# node), console NODE (its console shell) and client CMD... (a command in the client namespace).

# status [--json]: a table per node, or the JSON that tests parse (a stable format).
cmd_status() {
    local json=0 n
    while (($# > 0)); do
        case "$1" in
            --json) json=1 ;;
            *) usage_error "status: unknown argument '$1'" ;;
        esac
        shift
    done
    require_up
    if ((json)); then
        local sep='' out='{"nodes": {'
        for n in "${NODES[@]}"; do
            out+="$sep\"$n\": {\"power\": \"$(power_state "$n")\", \"daemon\": \"$(daemon_state "$n")\", \"holds_vip\": $(holds_vip "$n")}"
            sep=', '
        done
        out+="}, \"serial\": \"$(serial_state)\", \"udp\": \"$(udp_state)\"}"
        echo "$out"
        return 0
    fi
    local s pid
    echo "lab $LAB_NAME   serial: $(serial_state)   udp: $(udp_state)   vip: $VIP"
    printf '%-6s %-5s %-8s %-8s %-9s %-10s %s\n' node power daemon pid holds_vip role peer
    for n in "${NODES[@]}"; do
        pid=$(daemon_pid "$n")
        s=$(query_status_json "$n")
        printf '%-6s %-5s %-8s %-8s %-9s %-10s %s\n' "$n" "$(power_state "$n")" "$(daemon_state "$n")" "${pid:--}" \
            "$(holds_vip "$n")" "$(json_field "$s" role)" "$(json_field "$s" peer)"
    done
    echo "director service $VIP:$SERVICE_PORT/tcp, inside gateway $INSIDE_VIP:"
    rs_status_lines
}

# env: shell assignments for eval (works when the lab is down too; a stable format).
cmd_env() {
    (($# == 0)) || usage_error "env takes no arguments"
    local n
    printf 'LAB_NAME=%q\n' "$LAB_NAME"
    printf 'LAB_DIR=%q\n' "$DIR"
    echo 'NODES="alpha beta"'
    echo "VIP=$VIP"
    echo "PORT=$PORT"
    for n in "${NODES[@]}" client; do printf 'NS_%s=%q\n' "$n" "$(ns_of "$n")"; done
    for n in "${NODES[@]}"; do printf 'CONTROL_%s=%q\n' "$n" "$(sock_of "$n")"; done
    for n in "${NODES[@]}"; do printf 'TTY_%s=%q\n' "$n" "$DIR/tty-$n"; done
    for n in "${NODES[@]}" client; do printf 'ADDR_%s=%q\n' "$n" "${ADDR[$n]}"; done
    for n in "${NODES[@]}"; do printf 'LOG_%s=%q\n' "$n" "$DIR/$n.log"; done
    printf 'CONFIG=%q\n' "$DIR/appliance.yaml"
    printf 'APPLIANCED=%q\n' "$DAEMON"
    printf 'APPLIANCECTL=%q\n' "$CTL"
    # The director's side (issue 9): added after the lines above, which stay as they are.
    echo "SERVICE=$VIP:$SERVICE_PORT"
    echo "SERVICE_NAME=$SERVICE_NAME"
    echo "REAL_SERVERS=\"${REAL_SERVERS[*]}\""
    echo "SORRY=$SORRY"
    echo "INSIDE_VIP=$INSIDE_VIP"
    for n in "${REAL_SERVERS[@]}" "$SORRY"; do printf 'NS_%s=%q\n' "$n" "$(ns_of "$n")"; done
    for n in "${REAL_SERVERS[@]}" "$SORRY"; do printf 'ADDR_%s=%q\n' "$n" "${ADDR[$n]}"; done
    echo "RS_PORT=$RS_PORT"
    echo "HEALTH_PORT=$HEALTH_PORT"
    for n in "${NODES[@]}"; do printf 'INSIDE_ADDR_%s=%q\n' "$n" "${INSIDE_ADDR[$n]}"; done
    for n in "${NODES[@]}"; do printf 'SYNC_ADDR_%s=%q\n' "$n" "${SYNC_ADDR[$n]}"; done
    printf 'NS_isw=%q\n' "$NS_ISW"
}

# logs NODE [-f|--follow]
cmd_logs() {
    check_node "${1:-}"
    local n=$1 follow=0
    shift
    case "${1:-}" in
        '') ;;
        -f|--follow) follow=1; shift ;;
        *) usage_error "logs: unknown argument '$1'" ;;
    esac
    (($# == 0)) || usage_error "too many arguments"
    [[ -e $DIR/$n.log ]] || die "no log for $n ($DIR/$n.log)"
    if ((follow)); then exec tail -n +1 -f "$DIR/$n.log"; fi
    cat "$DIR/$n.log"
}

# watch: redraw both front panels and both nodes' appliancectl status (and the active node's services) every 0.5 s until
# Ctrl-C (used by make run).
cmd_watch() {
    (($# == 0)) || usage_error "watch takes no arguments"
    require_up
    trap 'printf "\n"; exit 0' INT TERM
    local frame n out el=$'\033[K'
    printf '\033[H\033[2J'
    while :; do
        frame="lab $LAB_NAME   $(date '+%T')   serial: $(serial_state)   udp: $(udp_state)   vip: $VIP   (Ctrl-C ends)$el"$'\n'
        # Both front panels side by side (lib/verbs-panel.sh): LEDs as lit now, the LCDs' text.
        panel_view
        frame+="$el"$'\n'"${REPLY//$'\n'/$el$'\n'}"
        for n in "${NODES[@]}"; do
            frame+="$el"$'\n'"== $n: daemon $(daemon_state "$n"), holds_vip $(holds_vip "$n") ==$el"$'\n'
            if [[ $(daemon_state "$n") == running ]]; then
                out=$(timeout 1 "$CTL" --control "$(sock_of "$n")" status 2>&1 </dev/null) || out+="${out:+$'\n'}(appliancectl status failed)"
            else
                out="(no answer: daemon $(daemon_state "$n"))"
            fi
            frame+="${out//$'\n'/$el$'\n'}$el"$'\n'
            # The director's services, as the node holding the VIPs balances them (one more
            # appliancectl per frame, only for that node).
            if [[ $(daemon_state "$n") == running && $(holds_vip "$n") == true ]]; then
                out=$(timeout 1 "$CTL" --control "$(sock_of "$n")" services 2>&1 </dev/null) || out+="${out:+$'\n'}(appliancectl services failed)"
                frame+="${out//$'\n'/$el$'\n'}$el"$'\n'
            fi
        done
        printf '\033[H%s\033[J' "$frame"
        sleep 0.5
    done
}

# ctl NODE ARGS...: appliancectl on NODE's control socket; its exit code is ours.
cmd_ctl() {
    check_node "${1:-}"
    local n=$1
    shift
    require_up
    exec "$CTL" --control "$(sock_of "$n")" "$@"
}

# console NODE: NODE's console shell (appliance-console, `appliancectl console`), run in NODE's
# namespace so that its `ping` leaves through NODE's interfaces. On a terminal (a pty: this one) it
# is interactive, as on the board's serial console; with stdin not a terminal it runs the lines
# piped in, prints what a person would have seen, and exits with the first failing line's code.
cmd_console() {
    check_node "${1:-}"
    (($# == 1)) || usage_error "console takes one NODE (alpha|beta)"
    require_up
    exec ip netns exec "$(ns_of "$1")" "$CTL" --control "$(sock_of "$1")" console
}

# client CMD...: CMD in the client namespace; its exit code is ours.
cmd_client() {
    (($# > 0)) || usage_error "client needs a command"
    case $1 in
        spread) shift; cmd_client_spread "$@" ;;   # lib/verbs-director.sh
        hold) shift; cmd_client_hold "$@" ;;
    esac
    require_up
    exec ip netns exec "$NS_CLIENT" "$@"
}
