# shellcheck shell=bash
# board/lab/lib/verbs-panel.sh: sourced by board/lab/lab. The front panel of each node: its LEDs,
# buttons and LCD are lines of the node's simulated GPIO chip ($DIR/gpio-NODE, after the relay on
# line 0), the daemon drives them from board/lab.yaml (a copy per node, $DIR/board-NODE.yaml, with
# the chip's path), and the simulated HD44780 on LCD_* decodes the pin writes into
# $DIR/gpio-NODE/lcd (four rows of 20, then `display on|off`). Verbs: panel NODE [--json],
# press NODE BUTTON [--hold S]; watch (lib/verbs-inspect.sh) shows both panels.

# The panel's lines, in offset order from 1 (line 0 is the relay in the peer's supply).
readonly PANEL_LINES=(LED_PWR LED_ACT LED_PEER LED_FAULT BTN_SEL BTN_NEXT BTN_PREV LCD_RS LCD_E LCD_D4 LCD_D5 LCD_D6 LCD_D7)
readonly PANEL_LEDS=(power active peer fault)          # offsets 1-4
declare -A PANEL_BUTTON=([select]=5 [next]=6 [prev]=7)
readonly PANEL_BUTTON
readonly PANEL_COLUMNS=16 PANEL_ROWS=2
# How long `panel` samples the LEDs to tell slow (1 Hz) from fast (4 Hz) blinking, and how often.
readonly PANEL_SAMPLES=60 PANEL_SAMPLE_EVERY_S=0.02

# The chip's line names (called by build_power for NODE): the relay, then the panel.
panel_chip_names() { printf '%s\n' "RELAY_${PEER[$1]^^}" "${PANEL_LINES[@]}"; }

# $DIR/board-NODE.yaml: board/lab.yaml with the chip's path of NODE (one config, one chip per
# node); and the buttons' level files, released.
write_panel_board() {
    local n=$1 src=$BIN/board/lab.yaml line out='' b
    [[ -r $src ]] || src=$REPO/board/lab.yaml
    [[ -r $src ]] || up_fail "no board profile lab.yaml in $BIN/board or $REPO/board"
    while IFS= read -r line; do
        out+="${line//sim:\/run\/appliance-lab\/gpio/sim:$DIR/gpio-$n}"$'\n'
    done <"$src"
    printf '%s' "$out" >"$DIR/board-$n.yaml"
    for b in "${PANEL_BUTTON[@]}"; do printf '0\n' >"$DIR/gpio-$n/line$b"; done
}

# up --panel on|off: off leaves the panel out of the config (the board stays), to compare.
LAB_PANEL=on

# The config's panel (appended by write_config): roles named as board/lab.yaml names them.
panel_config() {
    echo "board: lab"
    [[ $LAB_PANEL == on ]] || return 0
    echo "panel:"
    echo "  leds: {power: led-pwr, active: led-act, peer: led-peer, fault: led-fault}"
    echo "  lcd: {kind: hd44780, size: ${PANEL_COLUMNS}x$PANEL_ROWS}"
    echo "  buttons: {select: btn-sel, next: btn-next, prev: btn-prev}"
}

# The level of line OFFSET on NODE's chip in REPLY (0|1); a builtin read, no fork.
panel_level() {
    local v=0
    if [[ -r $DIR/gpio-$1/line$2 ]]; then read -r v <"$DIR/gpio-$1/line$2" || true; fi
    REPLY=${v:-0}
}

# NODE's LCD rows in the array LCD_ROWS (blank when the display is off, the file absent or the
# node without power).
panel_lcd() {
    local n=$1 f=$DIR/gpio-$1/lcd r blank
    local -a lines=()
    LCD_ROWS=()
    printf -v blank '%*s' "$PANEL_COLUMNS" ''
    if [[ $(power_state "$n") == on && -r $f ]]; then mapfile -t lines <"$f"; fi
    for ((r = 0; r < PANEL_ROWS; r++)); do
        if [[ ${lines[4]:-} == "display on" ]]; then
            LCD_ROWS+=("${lines[$r]:0:$PANEL_COLUMNS}")
        else
            LCD_ROWS+=("$blank")
        fi
    done
}

# The LEDs' patterns in LED_PATTERN[name] (on|off|slow|fast), sampled PANEL_SAMPLES times: no
# change is on or off; a few changes are the 1 Hz slow blink, many the 4 Hz fast one. A node
# without power shows nothing lit, whatever its lines' last levels.
panel_leds() {
    local n=$1 i o sleeper t p
    local -A last=() toggles=()
    declare -gA LED_PATTERN=()
    exec {sleeper}<> <(:)
    for ((i = 0; i < PANEL_SAMPLES; i++)); do
        for o in 1 2 3 4; do
            panel_level "$n" "$o"
            if [[ -n ${last[$o]:-} && ${last[$o]} != "$REPLY" ]]; then toggles[$o]=$((${toggles[$o]:-0} + 1)); fi
            last[$o]=$REPLY
        done
        read -r -t "$PANEL_SAMPLE_EVERY_S" -u "$sleeper" || true
    done
    exec {sleeper}>&-
    for o in 1 2 3 4; do
        t=${toggles[$o]:-0}
        if [[ $(power_state "$n") != on ]]; then p=off
        elif ((t == 0)); then if [[ ${last[$o]} == 1 ]]; then p=on; else p=off; fi
        elif ((t <= 4)); then p=slow
        else p=fast
        fi
        LED_PATTERN[${PANEL_LEDS[$((o - 1))]}]=$p
    done
}

panel_glyph() {
    case $1 in on) REPLY='●' ;; slow) REPLY='◐' ;; fast) REPLY='✳' ;; *) REPLY='○' ;; esac
}

json_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; REPLY="\"$s\""; }

# panel NODE [--json]: the node's front panel as a person sees it: the LEDs (sampled for about a
# second to tell the blink rates apart) and the LCD decoded from the pin writes.
cmd_panel() {
    check_node "${1:-}"
    local n=$1 json=0 l out sep rule leds=''
    shift
    case ${1:-} in
        '') ;;
        --json) json=1; shift ;;
        *) usage_error "panel: unknown option '$1' (panel NODE [--json])" ;;
    esac
    (($# == 0)) || usage_error "panel takes NODE and --json only"
    require_up
    panel_leds "$n"
    panel_lcd "$n"
    if ((json)); then
        out='{"leds": {' sep=''
        for l in "${PANEL_LEDS[@]}"; do out+="$sep\"$l\": \"${LED_PATTERN[$l]}\""; sep=', '; done
        out+='}, "lcd": [' sep=''
        for l in "${LCD_ROWS[@]}"; do json_string "$l"; out+="$sep$REPLY"; sep=', '; done
        echo "$out]}"
        return 0
    fi
    for l in "${PANEL_LEDS[@]}"; do panel_glyph "${LED_PATTERN[$l]}"; leds+="  $l $REPLY ${LED_PATTERN[$l]}"; done
    printf -v rule '%*s' "$PANEL_COLUMNS" ''
    echo "$n:$leds"
    echo "+${rule// /-}+"
    for l in "${LCD_ROWS[@]}"; do echo "|$l|"; done
    echo "+${rule// /-}+"
}

# press NODE BUTTON [--hold S]: press select|next|prev on NODE's panel for S seconds (default 0.2).
cmd_press() {
    check_node "${1:-}"
    local n=$1 b=${2:-} hold=0.2 f
    [[ -n $b && -n ${PANEL_BUTTON[$b]:-} ]] || usage_error "press: BUTTON must be select, next or prev, got '$b'"
    shift 2
    case ${1:-} in
        '') ;;
        --hold)
            [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "press: --hold needs seconds, like 3.5"
            hold=$2
            shift 2 ;;
        *) usage_error "press: unknown option '$1' (press NODE BUTTON [--hold S])" ;;
    esac
    (($# == 0)) || usage_error "press: too many arguments"
    require_up
    f=$DIR/gpio-$n/line${PANEL_BUTTON[$b]}
    printf '1\n' >"$f"
    sleep "$hold"
    printf '0\n' >"$f"
}

# Both panels side by side for watch, in REPLY: each node's LEDs as they are lit right now (the
# redraw shows the blinking; P A p F = power, active, peer, fault) and its LCD.
panel_view() {
    local n o g row
    local -A lines=()
    for n in "${NODES[@]}"; do
        g=''
        for o in 1 2 3 4; do
            panel_level "$n" "$o"
            if [[ $(power_state "$n") == on && $REPLY == 1 ]]; then g+='● '; else g+='○ '; fi
        done
        panel_lcd "$n"
        printf -v row '%-6s %s|%s|' "$n" "$g" "${LCD_ROWS[0]}"
        lines[$n.0]=$row
        printf -v row '%-6s %s|%s|' '' 'P A p F ' "${LCD_ROWS[1]}"
        lines[$n.1]=$row
    done
    REPLY=''
    for row in 0 1; do
        REPLY+="${lines[alpha.$row]}      ${lines[beta.$row]}"$'\n'
    done
}
