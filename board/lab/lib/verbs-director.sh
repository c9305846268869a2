# shellcheck shell=bash
# board/lab/lib/verbs-director.sh: sourced by board/lab/lab. The director's verbs (issue 9):
# rs stop|start|fail|heal|slow|close NAME (a real server's process and its health endpoint),
# client hold SECONDS and client spread N [--sources K] (the lab's clients of the director's service,
# run in the client namespace by `appliance-lab client`; cmd_client hands these two over), and
# reload [NODE] (appliancectl reload: the nodes re-read $DIR/appliance.yaml, `lab env`'s CONFIG).

# Extra client source addresses for `client spread --sources K`: CLIENT_SOURCE_BASE and on, in the
# client's /24 (above the client's own .100, below nothing the lab uses).
readonly CLIENT_SOURCE_BASE=192.168.80.101
readonly CLIENT_SOURCES_MAX=100

# reload [NODE]: appliancectl reload on NODE, or on alpha then beta (each node reloads its own file;
# in the lab both read $DIR/appliance.yaml). Prints each node's answer prefixed "NODE: "; exit 1 if
# any node refused (the bad file's file:line:col is in the answer) or did not answer.
cmd_reload() {
    (($# <= 1)) || usage_error "usage: $PROG reload [NODE]"
    local nodes=("${NODES[@]}") n rc=0 out
    if (($# == 1)); then check_node "$1"; nodes=("$1"); fi
    require_up
    for n in "${nodes[@]}"; do
        if out=$("$CTL" --control "$(sock_of "$n")" reload 2>&1 </dev/null); then :; else rc=1; fi
        echo "$n: ${out//$'\n'/$'\n'"$n: "}"
    done
    return "$rc"
}

# rs stop|start|fail|heal|slow|close NAME
#   stop, start: the server process (its held connections die with it); idempotent.
#   fail, heal, slow, close: what its health endpoint ($HEALTH_PORT) answers from now on:
#   500, 200, a 200 trickled a byte a second, the connection closed at once.
cmd_rs() {
    (($# == 2)) || usage_error "usage: $PROG rs stop|start|fail|heal|slow|close NAME"
    case $1 in stop|start|fail|heal|slow|close) ;; *) usage_error "usage: $PROG rs stop|start|fail|heal|slow|close NAME" ;; esac
    check_rs "$2"
    require_up
    local n=$2
    case $1 in
        stop)
            stop_rs "$n"
            echo "$n stopped" ;;
        start)
            if [[ -n $(rs_pid "$n") ]]; then echo "$n already running"; return 0; fi
            start_rs "$n" || die "$n did not start (see $DIR/$n.log)"
            echo "$n started: pid $(rs_pid "$n")" ;;
        fail|heal|slow|close)
            local word=$1
            [[ $word == heal ]] && word=ok
            echo "$word" >"$DIR/$n.health.tmp" && mv -f "$DIR/$n.health.tmp" "$DIR/$n.health"
            echo "$n health: $word" ;;
    esac
}

# client spread N [--sources K]: N new connections to the director's service, one after another;
# prints "NAME COUNT" per server that answered and "failed COUNT (reason)"; exit 1 if any failed.
# --sources K: the connections take turns over K source addresses (CLIENT_SOURCE_BASE and on, added
# to the client's eth0 if missing; they stay until down), and "source ADDR NAME COUNT" lines follow.
cmd_client_spread() {
    local usage="usage: $PROG client spread N [--sources K]" k=0 i base
    (($# == 1 || $# == 3)) || usage_error "$usage"
    [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] || usage_error "client spread: N must be 1 to 99999, got '$1'"
    if (($# == 3)); then
        [[ $2 == --sources ]] || usage_error "$usage"
        if ! [[ $3 =~ ^[1-9][0-9]{0,2}$ ]] || (($3 > CLIENT_SOURCES_MAX)); then
            usage_error "client spread: --sources K must be 1 to $CLIENT_SOURCES_MAX, got '$3'"
        fi
        k=$3
    fi
    require_up
    if ((k == 0)); then
        exec ip netns exec "$NS_CLIENT" "$LABTOOL" client spread "$VIP:$SERVICE_PORT" "$1"
    fi
    base=${CLIENT_SOURCE_BASE##*.}
    for ((i = 0; i < k; i++)); do
        ip -n "$NS_CLIENT" addr replace "${CLIENT_SOURCE_BASE%.*}.$((base + i))/24" dev eth0
    done
    exec ip netns exec "$NS_CLIENT" "$LABTOOL" client spread "$VIP:$SERVICE_PORT" "$1" --sources "$k" --source-base "$CLIENT_SOURCE_BASE"
}

# client hold SECONDS [--timeout D]: one connection to the service held for SECONDS, a line every
# 100 ms; prints "connected NAME" at once, then "server=NAME sent=S ok=O bad=B worst_ms=W" (and
# "lost after T s: REASON"); exit 1 unless every line came back within D (default 1s; a failover
# test gives a longer D, so a stalled line still counts once its answer arrives).
cmd_client_hold() {
    local usage="usage: $PROG client hold SECONDS [--timeout D]" timeout=()
    (($# == 1 || $# == 3)) || usage_error "$usage"
    [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ && ! $1 =~ ^0+(\.0+)?$ ]] || usage_error "client hold: SECONDS must be a positive number, got '$1'"
    if (($# == 3)); then
        [[ $2 == --timeout ]] || usage_error "$usage"
        parse_ms "$3" || usage_error "client hold: --timeout: bad duration '$3' (e.g. 500ms, 5s)"
        timeout=(--timeout "${REPLY}ms")
    fi
    require_up
    exec ip netns exec "$NS_CLIENT" "$LABTOOL" client hold "$VIP:$SERVICE_PORT" "$1" "${timeout[@]}"
}

# The real servers' part of `status` (the table, not --json).
rs_status_lines() {
    local n
    for n in "${REAL_SERVERS[@]}" "$SORRY"; do
        printf '%-6s %-15s %s\n' "$n" "${ADDR[$n]}:$RS_PORT" "$(rs_state "$n")"
    done
}
