#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those missing; apt-get update runs at most once.
# Usage: scripts/install-deps.sh test|run|bench|arm64|image
set -euo pipefail
# cluster-glue: the real `stonith -t rps10` client our PDU simulator is checked against; fence-agents:
# fence_dummy for the fence-agent device; libxml2-utils: xmllint for our agents' metadata; util-linux: flock;
# libnftables1: the director's applier; libnftables-dev: its header, which Edge/NftAbiTests compiles against.
# conntrackd, conntrack: the director's connection sync (director.sync), its tests and the lab (sync on by
# default). bench adds keepalived: the VRRP pairs the failover and held sections compare against.
# test and run add heartbeat and keepalived too: the example configs their packages ship
# (/usr/share/doc/{heartbeat,keepalived}) are the config importers' test inputs, and keepalived -t is
# their oracle. Neither package may leave a daemon behind: they go in with a policy-rc.d that denies
# every start (only for their install), and a daemon found by its pidfile afterwards is stopped.
base=(socat iproute2 nftables libnftables1 libnftables-dev conntrackd conntrack procps gcc libc6-dev linux-libc-dev resource-agents cluster-glue fence-agents libxml2-utils util-linux)
case "${1:-test}" in
  test|run) pkgs=("${base[@]}" tcpdump heartbeat keepalived) ;;
  bench)    pkgs=("${base[@]}" tcpdump stress-ng rt-tests heartbeat keepalived) ;;
  # NativeAOT for arm64 from this x86-64 machine: clang and lld link against Debian's arm64 cross libc.
  arm64)    pkgs=(clang lld binutils-aarch64-linux-gnu gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
  # image/build and image/test: the root file system from the Debian mirror (mmdebstrap), file systems
  # and the GPT disk without mounts (squashfs-tools, e2fsprogs, dosfstools, mtools, fdisk), the block map and the
  # compressed artefact (bmap-tools, zstd), and the VM under TCG with UEFI firmware (qemu, OVMF).
  image)    pkgs=(mmdebstrap squashfs-tools e2fsprogs dosfstools mtools fdisk bmap-tools zstd qemu-system-x86 ovmf socat iproute2 iputils-arping jq) ;;
  *) echo "usage: $0 test|run|bench|arm64|image" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v dotnet >/dev/null || { echo "install-deps: the .NET SDK (dotnet) is not on PATH" >&2; exit 1; }
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages ${missing[*]}; run as root or install them" >&2; exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages whose postinst would start a cluster daemon: installed apart, under a policy-rc.d.
daemons=(heartbeat keepalived)
plain=() guarded=()
for p in "${missing[@]}"; do
  if [[ " ${daemons[*]} " == *" $p "* ]]; then guarded+=("$p"); else plain+=("$p"); fi
done
[ ${#plain[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${plain[@]}" >/dev/null
if [ ${#guarded[@]} -gt 0 ]; then
  # invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d; 101 = "action not allowed". An
  # existing policy (a container's) is left as it is; ours is removed whatever the install does.
  policy=/usr/sbin/policy-rc.d ours=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# install-deps.sh: no daemon starts while %s install\nexit 101\n' "${guarded[*]}" >"$policy"
    chmod 755 "$policy"; ours=1
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends "${guarded[@]}" >/dev/null || rc=$?
  [ -z "$ours" ] || rm -f "$policy"
  [ "$rc" -eq 0 ] || exit "$rc"
  # Belt and braces: a daemon that started anyway is stopped by the pid its pidfile names.
  for pidfile in /run/heartbeat.pid /run/keepalived.pid; do
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "install-deps: stopping $(cat /proc/"$pid"/comm 2>/dev/null) (pid $pid from $pidfile), started by its package"
      kill -TERM "$pid" || true
    fi
  done
fi
