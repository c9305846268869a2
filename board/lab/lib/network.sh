# shellcheck shell=bash
# board/lab/lib/network.sh: sourced by board/lab/lab. The lab's network: the namespaces
# apl-$LAB_NAME-{sw,alpha,beta,client}, the bridge br0 in the switch namespace, a veth per node
# (created inside the namespaces, so no names in the root namespace) and the addresses; whether a
# node holds the VIP; the heartbeat udp cut (nft table inet $NFT_TABLE in alpha and beta).

# Namespaces of this lab that exist now.
lab_namespaces() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${NS_PREFIX}(alpha|beta|client|sw|isw|rs1|rs2|rs3|sorry)$" || true
}

ns_exists() { [[ -e /run/netns/$1 ]]; }

# The switch (bridge br0 in $NS_SW) and a namespace per node and the client, each with eth0
# on the bridge and its address.
build_network() {
    local n ns
    ip netns add "$NS_SW"
    ip -n "$NS_SW" link set lo up
    ip -n "$NS_SW" link add br0 type bridge forward_delay 0 stp_state 0 mcast_snooping 0
    ip -n "$NS_SW" link set br0 up
    for n in alpha beta client; do
        ns=$(ns_of "$n")
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        # Created inside the namespaces: the switch end is named after the node, the node
        # end is eth0. No names in the root namespace, so labs never collide.
        ip -n "$NS_SW" link add "$n" type veth peer name eth0 netns "$ns"
        ip -n "$NS_SW" link set "$n" master br0
        ip -n "$NS_SW" link set "$n" up
        ip -n "$ns" addr add "${ADDR[$n]}/24" dev eth0
        ip -n "$ns" link set eth0 up
    done
    build_inside
}

# The director's side: the inside bridge (br0 in $NS_ISW) with a namespace per real server and
# the sorry server (eth0, ADDR/24, default route via the inside gateway VIP), in0 on alpha and
# beta, and the sync link sync0 straight between alpha and beta. alpha and beta forward (NAT mode:
# the real servers' answers come back through the node that holds the inside VIP).
build_inside() {
    local n ns
    ip netns add "$NS_ISW"
    ip -n "$NS_ISW" link set lo up
    ip -n "$NS_ISW" link add br0 type bridge forward_delay 0 stp_state 0 mcast_snooping 0
    ip -n "$NS_ISW" link set br0 up
    for n in "${REAL_SERVERS[@]}" "$SORRY"; do
        ns=$(ns_of "$n")
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip -n "$NS_ISW" link add "$n" type veth peer name eth0 netns "$ns"
        ip -n "$NS_ISW" link set "$n" master br0
        ip -n "$NS_ISW" link set "$n" up
        ip -n "$ns" addr add "${ADDR[$n]}/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" route add default via "$INSIDE_VIP"
    done
    for n in "${NODES[@]}"; do
        ns=$(ns_of "$n")
        ip -n "$NS_ISW" link add "$n" type veth peer name in0 netns "$ns"
        ip -n "$NS_ISW" link set "$n" master br0
        ip -n "$NS_ISW" link set "$n" up
        ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    done
    ip -n "$(ns_of alpha)" link add sync0 type veth peer name sync0 netns "$(ns_of beta)"
    for n in "${NODES[@]}"; do inside_links_up "$n"; done
}

# NODE's inside and sync links up with their addresses (at up, and when the rail boots it).
inside_links_up() {
    local n=$1 ns
    ns=$(ns_of "$n")
    ip -n "$ns" addr add "${INSIDE_ADDR[$n]}/24" dev in0 2>/dev/null || true
    ip -n "$ns" link set in0 up
    ip -n "$ns" addr add "${SYNC_ADDR[$n]}/24" dev sync0 2>/dev/null || true
    ip -n "$ns" link set sync0 up
}

# true | false: NODE has the VIP on an interface.
holds_vip() {
    local ns
    ns=$(ns_of "$1")
    ns_exists "$ns" || { echo false; return; }
    local addrs
    addrs=$(ip -n "$ns" -o addr show 2>/dev/null || true)   # no 'ip | grep -q': SIGPIPE + pipefail
    if [[ $addrs == *" inet $VIP/"* ]]; then echo true; else echo false; fi
}

# Drop the heartbeat's udp (dport $HB_PORT) on input in alpha and beta.
udp_cut() {
    local n
    for n in "${NODES[@]}"; do
        # 'table' + 'delete table' + full definition in one transaction: idempotent.
        ip netns exec "$(ns_of "$n")" nft -f - <<EOF
table inet $NFT_TABLE
delete table inet $NFT_TABLE
table inet $NFT_TABLE {
    chain input {
        type filter hook input priority 0; policy accept;
        udp dport $HB_PORT drop
    }
}
EOF
    done
}

# Undo udp_cut. Idempotent.
udp_heal() {
    local n
    for n in "${NODES[@]}"; do
        printf 'table inet %s\ndelete table inet %s\n' "$NFT_TABLE" "$NFT_TABLE" \
            | ip netns exec "$(ns_of "$n")" nft -f -
    done
}

# up | cut: the udp link as udp_cut left it.
udp_state() {
    local n
    for n in "${NODES[@]}"; do
        if ip netns exec "$(ns_of "$n")" nft list table inet "$NFT_TABLE" >/dev/null 2>&1; then
            echo cut; return
        fi
    done
    echo up
}
