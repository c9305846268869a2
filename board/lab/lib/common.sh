# shellcheck shell=bash disable=SC2034 # the settings here are used by the other parts
# board/lab/lib/common.sh: sourced by board/lab/lab (never run on its own). Holds the lab's
# settings and constants (LAB_NAME, the state dir, the binaries, addresses, ports, the node table),
# the helpers every part uses (messages and exit codes, node and socket names, the lock, process
# checks, spawning detached processes, durations). Only definitions: no `set`, no side effects
# beyond validating LAB_NAME (exit 2) and defining the read-only settings. Uses PROG, SELF and
# REPO, which board/lab/lab sets before sourcing the parts.

# ---------------------------------------------------------------- settings and constants

LAB_NAME=${LAB_NAME:-lab}
if [[ ! $LAB_NAME =~ ^[a-z0-9]{1,8}$ ]]; then
    echo "$PROG: LAB_NAME must match [a-z0-9]{1,8}, got '$LAB_NAME'" >&2
    exit 2
fi
DIR=${LAB_DIR:-/run/appliance-lab/$LAB_NAME}
BIN=${APPLIANCE_BIN:-$REPO/out/bin}
# Per-binary overrides (used by board/lab/testing with the stand-in daemon).
DAEMON=${APPLIANCED:-$BIN/applianced}
CTL=${APPLIANCECTL:-$BIN/appliancectl}
LABTOOL=${APPLIANCE_LAB:-$BIN/appliance-lab}
readonly LAB_NAME DIR BIN DAEMON CTL LABTOOL

readonly NODES=(alpha beta)
readonly NS_PREFIX="apl-$LAB_NAME-"
readonly NS_SW="${NS_PREFIX}sw"
readonly NS_CLIENT="${NS_PREFIX}client"
readonly VIP=192.168.80.10
readonly PORT=7000
readonly HB_PORT=694
readonly NFT_TABLE=aplab
readonly MARKER=.appliance-lab
readonly LOCK="/run/lock/appliance-lab-$LAB_NAME.lock"
declare -A ADDR=([alpha]=192.168.80.1 [beta]=192.168.80.2 [client]=192.168.80.100
    [rs1]=10.77.0.11 [rs2]=10.77.0.12 [rs3]=10.77.0.13 [sorry]=10.77.0.250)
declare -A PRIO=([alpha]=100 [beta]=90)
declare -A PEER=([alpha]=beta [beta]=alpha)
# The power rail: NODE's supply runs through a relay on line 0 of its PEER's simulated GPIO chip
# ($DIR/gpio-PEER, line RELAY_NODE) and through outlet OUTLET[NODE] of the PDU on its PEER's serial
# port ($DIR/pdu-PEER.tty); and through its plug ($DIR/plug-NODE, `power off|on`).
declare -A OUTLET=([alpha]=1 [beta]=2)
readonly ADDR PRIO PEER OUTLET

# The director's side (issue 9): an inside bridge (br0 in $NS_ISW) with the real servers and the
# sorry server, each in its own namespace apl-$LAB_NAME-NAME with eth0 on ADDR[NAME]/24 and a default
# route via the inside gateway VIP; alpha and beta on it with in0 (INSIDE_ADDR); a sync link
# (veth sync0, SYNC_ADDR) straight between alpha and beta for conntrackd. Each server runs
# `appliance-lab serve NAME $RS_PORT --hold` with its health endpoint on $HEALTH_PORT, switched by
# $DIR/NAME.health (ok|fail|slow|close). The director's service: $VIP:$SERVICE_PORT/tcp, rr.
readonly NS_ISW="${NS_PREFIX}isw"
readonly REAL_SERVERS=(rs1 rs2 rs3)
readonly SORRY=sorry
readonly INSIDE_VIP=10.77.0.254
readonly INSIDE_NET=10.77.0.0/24
readonly SERVICE_PORT=80
readonly SERVICE_NAME=web
readonly RS_PORT=8080
readonly HEALTH_PORT=8081
declare -A INSIDE_ADDR=([alpha]=10.77.0.1 [beta]=10.77.0.2)
declare -A SYNC_ADDR=([alpha]=10.99.0.1 [beta]=10.99.0.2)
readonly INSIDE_ADDR SYNC_ADDR

# Timer defaults (milliseconds) when no timer option is given.
readonly DEF_KEEPALIVE=200 DEF_WARNTIME=600 DEF_DEADTIME=1000 DEF_INITDEAD=10000

# ---------------------------------------------------------------- helpers

die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "usage: $PROG VERB [ARGS...]   ('$PROG help' lists verbs)" >&2; exit 2; }
ns_of() { echo "${NS_PREFIX}$1"; }
sock_of() { echo "$DIR/$1.sock"; }

# check_rs NAME: NAME is a real server or the sorry server (usage error otherwise).
check_rs() {
    case "${1:-}" in
        rs1|rs2|rs3|sorry) ;;
        '') usage_error "missing NAME (rs1|rs2|rs3|sorry)" ;;
        *) usage_error "unknown server '$1' (rs1|rs2|rs3|sorry)" ;;
    esac
}

check_node() {
    case "${1:-}" in
        alpha|beta) ;;
        '') usage_error "missing NODE (alpha|beta)" ;;
        *) usage_error "unknown node '$1' (alpha|beta)" ;;
    esac
}

# Serialize up, down and restart of this lab: flock on fd 9, held until the process exits.
lock() {
    mkdir -p "$(dirname "$LOCK")"
    exec 9>"$LOCK"
    flock 9
}

is_up() { [[ -e $DIR/$MARKER ]] && ns_exists "$(ns_of alpha)"; }

require_up() { is_up || die "lab '$LAB_NAME' is not up (run '$PROG up')"; }

# cmdline of PID with NULs as spaces (empty if gone).
cmdline_of() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true; }

# Succeeds if PID is alive and its cmdline contains PATTERN (guards against PID reuse).
pid_matches() {
    local pid=$1 pattern=$2 cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(cmdline_of "$pid")
    [[ -n $cmd && $cmd == *"$pattern"* ]]
}

# Process state letter from /proc/PID/stat (R, S, T, Z, ...); empty if gone.
proc_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    echo "${stat%% *}"
}

# Monotonic-enough microsecond clock without forking (bash 5).
now_us() { REPLY=${EPOCHREALTIME/[.,]/}; }

read_pid() { if [[ -s $1 ]]; then cat "$1" 2>/dev/null || true; fi; }

# Stop the processes in PIDS (already verified as ours): SIGCONT (maybe frozen), SIGTERM,
# wait up to 3 s, then SIGKILL.
stop_pids() {
    local pid end alive
    (($# > 0)) || return 0
    for pid in "$@"; do kill -CONT "$pid" 2>/dev/null || true; done
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    now_us; end=$((REPLY + 3000000))
    while now_us; ((REPLY < end)); do
        alive=0
        for pid in "$@"; do
            case "$(proc_state "$pid")" in ''|Z|X) ;; *) alive=1 ;; esac
        done
        ((alive)) || return 0
        sleep 0.1
    done
    for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
}

# Run a command detached (new session, stdin /dev/null, output appended to LOG) and record
# the PID of the command itself in PIDFILE: the inner bash writes its own PID and execs.
# Usage: spawn NS PIDFILE LOG CMD...
spawn() {
    local ns=$1 pidfile=$2 log=$3 i
    shift 3
    rm -f "$pidfile"
    # shellcheck disable=SC2016 # $$ and $0 are for the inner shell
    setsid ip netns exec "$ns" bash -c 'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"' \
        "$pidfile" "$@" </dev/null >>"$log" 2>&1 9>&- &
    for ((i = 0; i < 50; i++)); do
        [[ -s $pidfile ]] && return 0
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------- durations

# parse_ms VALUE -> sets REPLY to milliseconds; accepts 250ms, 2s, 1.5s.
parse_ms() {
    local v=$1 frac
    if [[ $v =~ ^([0-9]+)ms$ ]]; then
        REPLY=$((10#${BASH_REMATCH[1]}))
    elif [[ $v =~ ^([0-9]+)s$ ]]; then
        REPLY=$((10#${BASH_REMATCH[1]} * 1000))
    elif [[ $v =~ ^([0-9]+)\.([0-9]{1,3})s$ ]]; then
        frac=${BASH_REMATCH[2]}000
        REPLY=$((10#${BASH_REMATCH[1]} * 1000 + 10#${frac:0:3}))
    else
        return 1
    fi
    ((REPLY > 0))
}

fmt_ms() { if (($1 % 1000 == 0)); then echo "$(($1 / 1000))s"; else echo "$1ms"; fi; }

# fmt_ms, with zero allowed (a fence delay may be 0ms).
fmt_ms0() { if (($1 == 0)); then echo 0ms; else fmt_ms "$1"; fi; }
