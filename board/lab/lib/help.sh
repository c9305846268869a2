# shellcheck shell=bash
# board/lab/lib/help.sh: sourced by board/lab/lab. The text of `lab help`: every verb, the options
# of up, their defaults and how missing timers are derived. Part of the stable interface: a new
# verb gets a line here (and in board/lab/README.md).

cmd_help() {
    cat <<EOF
usage: $PROG VERB [ARGS...]      (instance: LAB_NAME=$LAB_NAME, state dir: $DIR)

Verbs:
  up [options]         build namespaces, bridge, serial cable; start both daemons; wait (15 s)
                       for both control sockets. Exit 1 if already up (nothing is changed).
  down                 stop everything this lab started, delete namespaces apl-$LAB_NAME-*,
                       remove the state dir. Idempotent; works after a crash.
  status [--json]      table per node: power, daemon (running|stopped|frozen), holds_vip, role,
                       peer state. --json: {"nodes": {"alpha": {"power", "daemon", "holds_vip"},
                       ...}, "serial": "up|cut|down", "udp": "up|cut"}
  env                  shell assignments: LAB_NAME LAB_DIR NODES VIP PORT NS_* CONTROL_* TTY_* ...
                       SERVICE REAL_SERVERS SORRY INSIDE_VIP NS_rs1.. ADDR_rs1.. RS_PORT HEALTH_PORT
  ctl NODE ARGS...     appliancectl --control <NODE's socket> ARGS... (exit code passed through)
  console NODE         NODE's console shell (appliance-console) in its namespace: interactive on a
                       terminal; piped lines are run as typed, exit code of the first failing one
  cut serial|udp|all   serial: SIGSTOP the cable (socat); udp: drop udp dport $HB_PORT on input
                       in alpha and beta (nft table inet $NFT_TABLE). Idempotent.
  heal serial|udp|all  undo cut. Idempotent.
  freeze NODE          SIGSTOP the whole node        thaw NODE   SIGCONT it
  restart NODE         stop the daemon (TERM, 3 s, KILL) and start it again: a new boot
  stop NODE            what 'systemctl stop' does: SIGTERM (a planned switchover: the daemon hands
                       its resources to the peer and says goodbye, the peer shows it stopped and does
                       not fence it), KILL after 3 s        start NODE   start it again: a new boot
  power off|on NODE    pull or plug in NODE's power cord. NODE is powered while its plug is in,
                       the relay on its peer's GPIO chip is released and its PDU outlet is on; the
                       rail kills everything on a node that loses power and boots it when it returns
  pdu fault silent|slow|garbage|liar|none   make both PDU simulators misbehave (liar: acknowledges,
                       does not switch)
  relay break|fix NODE hold (release) the GPIO line of the relay that fences NODE: requests fail
  service stop|start NODE  stop or start the node's service on port 7000 (the lab's tcp monitor watches it)
  noise NODE SECONDS   random bytes (~10 kB/s, about a 115200-baud line) written into NODE's end
                       of the serial cable, among NODE's frames: the PEER receives the noise
  client CMD...        run CMD in the client namespace (192.168.80.100)
  client spread N [--sources K]   N new connections to the director's service ($VIP:$SERVICE_PORT):
                       prints "NAME COUNT" per server that answered, "failed COUNT (reason)"; exit 1 if
                       any failed. --sources K (1-100): the connections take turns over K client
                       addresses from 192.168.80.101 on (added to the client), then one line
                       "source ADDR NAME COUNT" per source and server that answered it
  client hold SECONDS [--timeout D]   one connection to the service, a line every 100 ms: prints
                       "connected NAME", then "server=NAME sent=S ok=O bad=B worst_ms=W" ("lost after
                       T s: ..." if it broke); exit 1 unless every line came back within D (default 1s)
  rs stop|start NAME   stop (its connections die) or start a real server: rs1 rs2 rs3 sorry
  rs fail|heal|slow|close NAME   its health endpoint (:$HEALTH_PORT, any path) answers 500 | 200 |
                       a 200 trickled 1 byte/s | closes at once (file \$DIR/NAME.health)
  panel NODE [--json]  NODE's front panel as a person sees it: the LEDs (sampled ~1.2 s: on, off,
                       slow = 1 Hz, fast = 4 Hz) and the 16x2 LCD decoded from its pin writes.
                       --json: {"leds": {"power", "active", "peer", "fault"}, "lcd": ["row 1", "row 2"]}
  press NODE BUTTON [--hold S]   press select|next|prev on NODE's panel for S seconds (default 0.2);
                       holding select 3 s twice on the role screen is a planned switchover (standby)
  reload [NODE]        appliancectl reload on NODE (default: alpha, then beta): the daemons re-read
                       the config (CONFIG in env, one file for both nodes; edit it first), apply the
                       director's difference live and list what needs a restart; prints each answer
                       as "NODE: ..."; exit 1 if a node refused (a bad file: file:line:col, nothing changed)
  logs NODE [-f]       print (or follow) the daemon's log
  watch                live view of both front panels and both nodes' 'appliancectl status' (and
                       the active node's 'appliancectl services') every 0.5 s, until Ctrl-C
  help                 this text

Options of up (durations: 2ms, 20ms, 1s, 1.5s):
  --keepalive D        default $(fmt_ms "$DEF_KEEPALIVE"); if only --deadtime is given: min($(fmt_ms "$DEF_KEEPALIVE"), deadtime/5)
  --warntime D         default $(fmt_ms "$DEF_WARNTIME"); derived: 3 x keepalive if that is < deadtime,
                       else (keepalive + deadtime) / 2
  --deadtime D         default $(fmt_ms "$DEF_DEADTIME"); derived: 5 x keepalive (raised to warntime + 2 x
                       keepalive if --warntime is larger)
  --initdead D         default $(fmt_ms "$DEF_INITDEAD"); derived: max(10 x deadtime, 2s)
  --fencing off|required       default off
  --fence relay,pdu,manual     the devices in each node's fence list, in order; default relay,pdu
                               when fencing is required (relay: line RELAY_NODE of the peer's
                               simulated chip; pdu: RPS-10 simulator on the peer's serial port)
  --fence-delay D              cluster.fence_delay (default 1s; 0ms allowed)
  --fence-delay-random D       cluster.fence_delay_random (default 500ms)
  --auto-failback true|false   default false
  --baud N             the serial cable's baud in the config (default 115200; 1200 to 921600): a pty
                       carries any rate, but the daemons give the serial link the cadence this rate
                       carries (at 115200 at least 10.3 ms: with a 2 ms keepalive it sends every 6th)
  --panel on|off       default on: the front panel in the config (off: the board without a panel)
  --sync on|off        default on: director.sync over sync0 (each daemon supervises conntrackd, a
                       takeover commits the peer's connections before the VIPs); off: no sync (held
                       connections through the VIP do not survive a failover)
  --resource '{...}'   add a resource after the VIP (repeatable), e.g. '{name: d, kind: ocf, agent: heartbeat:Dummy}'
  --config-extra FILE  append FILE verbatim to the generated appliance.yaml (further sections)
  --scheduler rr|wrr|sh|random   the director service's scheduler (default rr)
  --weights W1,W2,W3   the weights of rs1, rs2, rs3 (default: none written, i.e. 1)
  With no timer option the defaults are exactly ${DEF_KEEPALIVE}ms/${DEF_WARNTIME}ms/1s/10s. Checked:
  keepalive < warntime < deadtime, deadtime > 2 x keepalive, initdead >= deadtime (else exit 2).
  Example: up --keepalive 20ms --deadtime 100ms  ->  20ms/60ms/100ms/2s.

Environment: LAB_NAME ([a-z0-9]{1,8}, default lab), LAB_DIR (default /run/appliance-lab/\$LAB_NAME),
  APPLIANCE_BIN (default <repo>/out/bin), APPLIANCED / APPLIANCECTL (override one binary).
Director (issue 9): real servers rs1 rs2 rs3 (10.77.0.11-13:$RS_PORT) and the sorry server
  (10.77.0.250:$RS_PORT) on an inside bridge, default route via the inside gateway VIP $INSIDE_VIP
  (resource gw-inside on in0 of the active node); sync link sync0 10.99.0.1 - 10.99.0.2 (conntrackd,
  up --sync). The generated config has service $SERVICE_NAME on $VIP:$SERVICE_PORT/tcp, rr (--scheduler),
  nat, over rs1..rs3 (--weights); change it on the running pair by editing CONFIG and 'reload'.
Exit codes: 0 ok, 1 failed, 2 bad usage.
EOF
}
