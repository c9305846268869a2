# shellcheck shell=bash
# image/lib/vm.sh: sourced by image/test and image/pair. A VM's serial console driven from bash, as
# a person at the console would: qemu's pipe chardev (DIR/con.in, DIR/con.out), everything the VM
# prints appended to DIR/console.log, and commands typed at the root shell the image logs in on its
# console, their output and exit code read back. Each VM has its own DIR; its qemu's PID is in
# DIR/qemu.pid while it runs. The caller defines fail MESSAGE.

VM_CMD_TIMEOUT_S=${VM_CMD_TIMEOUT_S:-120}
declare -A VM_CONIN=() VM_READER=()

# vm_console_open DIR: the console FIFOs and their reader. Both ends are opened read-write, so that
# neither the reader nor the writer ever sees an end of file while qemu is off between boots.
vm_console_open() {
    local dir=$1 fd
    mkfifo "$dir/con.in" "$dir/con.out"
    : > "$dir/console.log"
    cat 0<>"$dir/con.out" >> "$dir/console.log" &
    VM_READER[$dir]=$!
    exec {fd}<>"$dir/con.in"
    VM_CONIN[$dir]=$fd
}

# vm_console_close DIR: stops the reader (cleanup).
vm_console_close() {
    local dir=$1
    [ -n "${VM_READER[$dir]:-}" ] && { kill "${VM_READER[$dir]}" 2>/dev/null || true; }
    VM_READER[$dir]=
}

# vm_console_args DIR: the chardev and serial arguments that make DIR's console the VM's first UART.
vm_console_args() { printf '%s\n' -chardev "pipe,id=con,path=$1/con" -serial chardev:con; }

vm_running() { [ -s "$1/qemu.pid" ] && kill -0 "$(cat "$1/qemu.pid")" 2>/dev/null; }

# vm_log_size DIR: where the console log ends now (a mark for vm_wait_for).
vm_log_size() { stat -c %s "$1/console.log"; }

# vm_send DIR TEXT: types TEXT and Enter on the console.
vm_send() { printf '%s\r' "$2" >&"${VM_CONIN[$1]}"; }

# vm_wait_for DIR FROM REGEX TIMEOUT: waits until the console log, from byte FROM on, matches REGEX.
vm_wait_for() {
    local dir=$1 from=$2 re=$3 timeout=$4 t0
    t0=$(date +%s)
    until tail -c +"$((from + 1))" "$dir/console.log" | tr -d '\r' | grep -Eq "$re"; do
        vm_running "$dir" || fail "${dir##*/}: the VM is off while waiting for /$re/ ($(cat "$dir/qemu.err" 2>/dev/null))"
        [ $(( $(date +%s) - t0 )) -lt "$timeout" ] || fail "${dir##*/}: no /$re/ on the console within ${timeout}s"
        sleep 0.5
    done
}

# vm_con DIR COMMAND: runs COMMAND at the console's shell; its output goes to stdout, its exit code is
# returned. Each call has its own marker (callers may run it in a pipeline's subshell); the shell's
# echo, prompts and terminal escapes are dropped from the output.
vm_con() {
    local dir=$1 id from out rc
    id=$(date +%s%N)
    from=$(vm_log_size "$dir")
    printf '%s; echo "@@%s:$?@@"\r' "$2" "$id" >&"${VM_CONIN[$dir]}"
    vm_wait_for "$dir" "$from" "@@$id:[0-9]+@@" "$VM_CMD_TIMEOUT_S"
    out=$(tail -c +"$((from + 1))" "$dir/console.log" | tr -d '\r' | sed 's/\x1b\[[0-9;?=]*[a-zA-Z]//g')
    printf '%s\n' "$out" | sed "/@@$id:[0-9]*@@/,\$d" | grep -v -F "@@$id:" \
        | sed -E 's/^root@[a-z0-9-]+:~# ?//' | grep -v '^$' || true
    rc=$(printf '%s\n' "$out" | sed -n "s/.*@@$id:\([0-9]*\)@@.*/\1/p" | tail -n 1)
    return "${rc:-1}"
}

# vm_login DIR FROM TIMEOUT: waits for the root prompt the console logs in to (after byte FROM), makes
# the shell quiet and wide, and waits for the boot to finish (appliance-config among it).
vm_login() {
    local dir=$1 state
    vm_wait_for "$dir" "$2" 'root@[a-z0-9-]+:~# ' "$3"
    vm_con "$dir" "dmesg -n 1; stty -echo cols 250; bind 'set enable-bracketed-paste off'" >/dev/null || true
    state=$(vm_con "$dir" 'systemctl is-system-running --wait') || true
    case "${state##*$'\n'}" in running|degraded) ;; *) fail "${dir##*/}: the boot did not finish ($state)" ;; esac
}

# vm_fat_put IMAGE@@OFFSET FILE NAME: writes FILE as NAME onto the FAT config partition of a disk
# image (as a laptop would), without a mount.
vm_fat_put() { MTOOLS_SKIP_CHECK=1 mcopy -o -i "$1" "$2" "::/$3"; }

# vm_fat_of DISK: the mtools address of DISK's config partition (appliance-cfg).
vm_fat_of() {
    local start
    start=$(sfdisk -d "$1" | sed -n 's/.*start= *\([0-9]*\),.*name="appliance-cfg".*/\1/p')
    [ -n "$start" ] || fail "no appliance-cfg partition in $1"
    echo "$1@@$((start * 512))"
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b - a}'; }
