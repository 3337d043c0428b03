#!/bin/sh
# complete: checks, from inside the container, that the executor kept the Seed 1.0.0 runtime
# contract for a manifest that uses every member, then does a little real work.
#
# Phase 1 runs every check and collects the failures; if any failed it lists them on stderr
# and exits 10 (contract-violated) before writing anything, so a broken executor is seen as
# broken and never as a job that produced odd outputs.
# Phase 2 validates the data (exit 11 invalid-input, 12 invalid-setting).
# Phase 3 writes part-N.txt (one per file of INPUT_FILES), summary.txt, its metadata side-car,
# seed.outputs.json and a note in the SCRATCH mount.
#
# The secret setting API_TOKEN is only compared, never printed: every value this script
# prints goes through show(), which hides anything containing the secret.
#
# POSIX sh for busybox: no bash-isms, no temporary files (the image has no /tmp of its own;
# ades mounts one, other executors may not).
set -eu

# Paths the manifest declares; the checks compare against them.
reference_mount=/mounts/reference
scratch_mount=/mounts/scratch

# Declared resource values (the manifest's resources.scalar); an executor may give more.
declared_cpus=0.5
declared_mem=64
declared_shared_mem=96
declared_disk=16
declared_disk_multiplier=2

nl='
'
failures=0

violation() {
    printf 'contract violation: %s\n' "$*" >&2
    failures=$((failures + 1))
}

# Prints a value for a message, single-quoted, unless it holds the secret.
show() {
    if [ -n "${API_TOKEN:-}" ]; then
        case $1 in
            *"$API_TOKEN"*) printf '%s' '<hidden: contains the API_TOKEN value>'; return ;;
        esac
    fi
    printf "'%s'" "$1"
}

is_set() {
    eval "[ \"\${$1+set}\" = set ]"
}

value_of() {
    eval "printf '%s' \"\${$1}\""
}

# True if $1 is one line matching the extended regex $2 entirely.
matches() {
    case $1 in *"$nl"*) return 1 ;; esac
    printf '%s\n' "$1" | grep -Eqx -- "$2"
}

# awk does the arithmetic: busybox sh only has integers. The small tolerance absorbs the
# rounding of values printed with fewer digits than a double holds.
num_ge() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0.000001 >= b + 0) }'
}

# Writes $1 as a JSON string literal (quotes included). Bytes >= 0x80 pass through, so UTF-8
# stays UTF-8; control characters are escaped. The value goes through the environment
# because awk -v would interpret backslashes.
json_string() {
    _json_value=$1
    export _json_value
    awk 'BEGIN {
        for (k = 1; k < 32; k++) ctl[sprintf("%c", k)] = sprintf("\\u%04x", k)
        ctl["\n"] = "\\n"; ctl["\t"] = "\\t"; ctl["\r"] = "\\r"
        s = ENVIRON["_json_value"]; out = "\""
        n = length(s)
        for (i = 1; i <= n; i++) {
            c = substr(s, i, 1)
            if (c == "\\") out = out "\\\\"
            else if (c == "\"") out = out "\\\""
            else if (c in ctl) out = out ctl[c]
            else out = out c
        }
        printf "%s\"", out
    }'
    unset _json_value
}

# Calls function $2 with each entry of directory $1 (dot-files included, sorted, any
# characters in the names); the function runs in this shell, so it may update counters.
for_each_entry() {
    for _entry in "$1"/* "$1"/.[!.]* "$1"/..?*; do
        if [ -e "$_entry" ] || [ -L "$_entry" ]; then
            "$2" "$_entry"
        fi
    done
}

# Whether directory $1 has any entry at all.
has_entries() {
    for _entry in "$1"/* "$1"/.[!.]* "$1"/..?*; do
        if [ -e "$_entry" ] || [ -L "$_entry" ]; then
            return 0
        fi
    done
    return 1
}

# A file the job must be able to read but not change (inputs are immutable).
check_read_only_file() {
    what=$1
    path=$2
    if [ ! -f "$path" ]; then
        violation "$what $(show "$path") is not a regular file"
        return
    fi
    # One byte is enough to prove it readable (and respects partial inputs).
    if [ ! -r "$path" ] || ! head -c 1 "$path" > /dev/null 2>&1; then
        violation "$what $(show "$path") is not readable"
    fi
    # Opening for append changes nothing even when it succeeds, so a wrongly writable input
    # is detected without harming it. (busybox `test -w` is always true for root, so it
    # cannot be used.) A non-root user may be stopped by file permissions alone, so the
    # mount holding the file must be read-only too.
    if (: >> "$path") 2> /dev/null; then
        violation "$what $(show "$path") is writable (inputs must be read-only)"
    else
        case $(containing_mount_options "$path") in
            rw | rw,*) violation "$what $(show "$path") lies on a read-write mount (inputs must be read-only)" ;;
        esac
    fi
}

# Whether a file can be created in directory $1 (the probe is removed at once).
can_create_in() {
    probe="$1/.complete-probe-$$"
    if (: > "$probe") 2> /dev/null; then
        rm -f "$probe"
        return 0
    fi
    return 1
}

# Options of the mount at exactly path $1 (from /proc/self/mountinfo), empty if none.
mount_options() {
    awk -v p="$1" '$5 == p { opts = $6 } END { print opts }' /proc/self/mountinfo 2> /dev/null || true
}

# Options of the mount that holds path $1: the longest mount point that is $1 or one of its
# parents (mountinfo writes space, tab, newline and backslash in octal). The path goes
# through ENVIRON because awk -v would interpret backslashes.
containing_mount_options() {
    _mount_path=$1
    export _mount_path
    awk '{
        mp = $5
        gsub(/\\040/, " ", mp); gsub(/\\011/, "\t", mp); gsub(/\\012/, "\n", mp); gsub(/\\134/, "\\", mp)
        p = ENVIRON["_mount_path"]
        if ((p == mp || mp == "/" || index(p, mp "/") == 1) && length(mp) >= best) {
            best = length(mp); opts = $6
        }
    } END { print opts }' /proc/self/mountinfo 2> /dev/null || true
    unset _mount_path
}

check_mount() {
    name=$1
    path=$2
    mode=$3
    opts=$(mount_options "$path")
    if [ -z "$opts" ]; then
        violation "mount $name: nothing is mounted at $path"
        return
    fi
    if [ ! -d "$path" ] || ! ls "$path" > /dev/null 2>&1; then
        violation "mount $name: $path is not a readable directory"
        return
    fi
    case "$mode,$opts" in
        ro,ro | ro,ro,*) ;;
        rw,rw | rw,rw,*) ;;
        *) violation "mount $name: $path must be mounted $mode, its options are $opts" ;;
    esac
    if [ "$mode" = ro ] && can_create_in "$path"; then
        violation "mount $name: a file could be created in $path (mode ro)"
    fi
    if [ "$mode" = rw ] && ! can_create_in "$path"; then
        violation "mount $name: no file can be created in $path (mode rw)"
    fi
}

# ---------------------------------------------------------------------------------------
# Phase 1: the contract.

# OUTPUT_DIR comes first, before this script writes anything.
if ! is_set OUTPUT_DIR; then
    violation "OUTPUT_DIR is not set"
    OUTPUT_DIR=
else
    case $OUTPUT_DIR in
        /*) ;;
        *) violation "OUTPUT_DIR $(show "$OUTPUT_DIR") is not an absolute path" ;;
    esac
    if [ ! -d "$OUTPUT_DIR" ]; then
        violation "OUTPUT_DIR $(show "$OUTPUT_DIR") is not a directory"
    else
        if has_entries "$OUTPUT_DIR"; then
            violation "OUTPUT_DIR is not empty at start: $(ls -A "$OUTPUT_DIR" | tr '\n' ' ')"
        fi
        if ! can_create_in "$OUTPUT_DIR"; then
            violation "OUTPUT_DIR $(show "$OUTPUT_DIR") is not writable"
        fi
    fi
fi

# The command "--output ${OUTPUT_DIR} --inputs $INPUT_FILES ${SUPPLEMENT/#/--supplement }
# ${MAX_LINES/#/--max-lines } --mode ${MODE}" expanded Bash-style: each option once, with
# the variable's value as the next argument; the optional ones only when their variable is
# set.
arg_output= arg_inputs= arg_supplement= arg_max_lines= arg_mode=
seen=' '
while [ "$#" -gt 0 ]; do
    case $1 in
        --output | --inputs | --supplement | --max-lines | --mode)
            option=$1
            case $seen in *" $option "*) violation "argument $option appears twice" ;; esac
            seen="$seen$option "
            if [ "$#" -lt 2 ]; then
                violation "argument $option has no value after it"
                shift
                continue
            fi
            case $option in
                --output) arg_output=$2 ;;
                --inputs) arg_inputs=$2 ;;
                --supplement) arg_supplement=$2 ;;
                --max-lines) arg_max_lines=$2 ;;
                --mode) arg_mode=$2 ;;
            esac
            shift 2
            ;;
        *)
            violation "unexpected argument $(show "$1") (the expanded command has only --output, --inputs, --supplement, --max-lines, --mode)"
            shift
            ;;
    esac
done

# An argument that must be present exactly when variable $2 is set, with its value.
check_argument() {
    option=$1
    variable=$2
    given=$3
    case $seen in
        *" $option "*)
            if ! is_set "$variable"; then
                violation "argument $option is present but $variable is not set"
            elif [ "$given" != "$(value_of "$variable")" ]; then
                violation "argument $option is $(show "$given"), $variable is $(show "$(value_of "$variable")")"
            fi
            ;;
        *)
            if is_set "$variable"; then
                violation "argument $option is missing although $variable is set"
            fi
            ;;
    esac
}
check_argument --output OUTPUT_DIR "$arg_output"
check_argument --inputs INPUT_FILES "$arg_inputs"
check_argument --supplement SUPPLEMENT "$arg_supplement"
check_argument --max-lines MAX_LINES "$arg_max_lines"
check_argument --mode MODE "$arg_mode"

# Input bytes, for the disk inputMultiplier.
input_bytes=0

# INPUT_FILES (multiple): a directory holding the files directly, each read-only.
if ! is_set INPUT_FILES; then
    violation "INPUT_FILES (required, multiple) is not set"
else
    case $INPUT_FILES in
        /*) ;;
        *) violation "INPUT_FILES $(show "$INPUT_FILES") is not an absolute path" ;;
    esac
    if [ ! -d "$INPUT_FILES" ]; then
        violation "INPUT_FILES $(show "$INPUT_FILES") is not a directory (multiple inputs are a directory)"
    else
        count=0
        check_input_entry() {
            count=$((count + 1))
            if [ -d "$1" ]; then
                violation "INPUT_FILES holds a directory $(show "$1"); its files must lie directly in it"
                return
            fi
            check_read_only_file "INPUT_FILES file" "$1"
            if [ -f "$1" ] && [ -r "$1" ]; then
                input_bytes=$((input_bytes + $(wc -c < "$1")))
            fi
        }
        for_each_entry "$INPUT_FILES" check_input_entry
        if [ "$count" -eq 0 ]; then
            violation "INPUT_FILES $(show "$INPUT_FILES") holds no file"
        fi
    fi
fi

# SUPPLEMENT (optional, single): unset when not given (not empty), else one read-only file.
if is_set SUPPLEMENT; then
    case $SUPPLEMENT in
        /*) ;;
        *) violation "SUPPLEMENT $(show "$SUPPLEMENT") is not an absolute path (an absent optional input must be unset, not empty)" ;;
    esac
    check_read_only_file "SUPPLEMENT" "$SUPPLEMENT"
    if [ -f "$SUPPLEMENT" ] && [ -r "$SUPPLEMENT" ]; then
        input_bytes=$((input_bytes + $(wc -c < "$SUPPLEMENT")))
    fi
fi

# Json inputs: strings raw, numbers as JSON numbers, booleans true/false, arrays and objects
# as compact JSON; optional ones unset when not given.
integer_re='-?(0|[1-9][0-9]*)'
number_re='-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?'

if ! is_set LABEL; then
    violation "LABEL (required string) is not set"
else
    case $LABEL in
        \"*\") violation "LABEL $(show "$LABEL") looks JSON-encoded; string inputs are injected raw" ;;
    esac
fi
if ! is_set FACTOR; then
    violation "FACTOR (required number) is not set"
elif ! matches "$FACTOR" "$number_re"; then
    violation "FACTOR $(show "$FACTOR") is not a JSON number"
fi
if ! is_set UPPERCASE; then
    violation "UPPERCASE (required boolean) is not set"
elif [ "$UPPERCASE" != true ] && [ "$UPPERCASE" != false ]; then
    violation "UPPERCASE $(show "$UPPERCASE") is not true or false"
fi
if is_set MAX_LINES && ! matches "$MAX_LINES" "$integer_re"; then
    violation "MAX_LINES $(show "$MAX_LINES") is not a JSON integer (an absent optional input must be unset, not empty)"
fi
# Compact JSON container: opens and closes with the right bracket, one line, no padding.
check_compact() {
    variable=$1
    open=$2
    close=$3
    is_set "$variable" || return 0
    value=$(value_of "$variable")
    case $value in
        *"$nl"*) violation "$variable is not compact JSON (it has a line break)" ;;
        "$open"*"$close") ;;
        *) violation "$variable $(show "$value") is not a JSON $4 (expected $open...$close)" ;;
    esac
}
check_compact TAGS '[' ']' array
check_compact OPTIONS '{' '}' object

# Settings: plain and secret ones both arrive as variables.
if ! is_set MODE; then
    violation "setting MODE is not set"
fi
if ! is_set API_TOKEN; then
    violation "secret setting API_TOKEN is not set"
elif [ -z "$API_TOKEN" ]; then
    violation "secret setting API_TOKEN is empty"
fi

# Mounts: REFERENCE has no mode (so ro), SCRATCH is rw.
check_mount REFERENCE "$reference_mount" ro
check_mount SCRATCH "$scratch_mount" rw

# ALLOCATED_*: one per resource, a number printed with a decimal point (1.0, 64.0), at least
# the declared amount; disk adds inputMultiplier x input MiB.
allocated_re='[0-9]+\.[0-9]+'
input_mib=$(awk -v b="$input_bytes" 'BEGIN { printf "%.9f", b / 1048576 }')
expected_disk=$(awk -v v="$declared_disk" -v m="$declared_disk_multiplier" -v i="$input_mib" \
    'BEGIN { printf "%.9f", v + m * i }')
check_allocated() {
    variable=$1
    minimum=$2
    if ! is_set "$variable"; then
        violation "$variable is not set"
        return
    fi
    value=$(value_of "$variable")
    if ! matches "$value" "$allocated_re"; then
        violation "$variable $(show "$value") is not a decimal number with a point (like 1.0)"
    elif ! num_ge "$value" "$minimum"; then
        violation "$variable is $value, less than the $minimum requested"
    fi
}
check_allocated ALLOCATED_CPUS "$declared_cpus"
check_allocated ALLOCATED_MEM "$declared_mem"
check_allocated ALLOCATED_SHAREDMEM "$declared_shared_mem"
check_allocated ALLOCATED_DISK "$expected_disk"

# mem must be a real memory limit (cgroup v2 or v1), at least ALLOCATED_MEM.
memory_limit=
for file in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
    if [ -r "$file" ]; then
        memory_limit=$(cat "$file")
        break
    fi
done
if [ -z "$memory_limit" ]; then
    echo "note: no cgroup memory file is readable; the memory limit is not checked" >&2
elif [ "$memory_limit" = max ] || num_ge "$memory_limit" 4611686018427387904; then
    violation "no memory limit is set (mem is $declared_mem MiB)"
elif matches "${ALLOCATED_MEM:-}" "$allocated_re" \
    && ! num_ge "$memory_limit" "$(awk -v m="$ALLOCATED_MEM" 'BEGIN { printf "%.0f", m * 1048576 }')"; then
    violation "the memory limit is $memory_limit bytes, less than ALLOCATED_MEM $ALLOCATED_MEM MiB"
fi

# sharedMem must be the size of /dev/shm.
shm_kib=$(df -k /dev/shm 2> /dev/null | awk 'NR == 2 { print $2 }')
if [ -z "$shm_kib" ]; then
    violation "/dev/shm is missing (sharedMem is $declared_shared_mem MiB)"
elif matches "${ALLOCATED_SHAREDMEM:-}" "$allocated_re" \
    && ! num_ge "$shm_kib" "$(awk -v m="$ALLOCATED_SHAREDMEM" 'BEGIN { printf "%.0f", m * 1024 }')"; then
    violation "/dev/shm is $shm_kib KiB, less than ALLOCATED_SHAREDMEM $ALLOCATED_SHAREDMEM MiB"
fi

# ades runs every job with all capabilities dropped and without network.
cap_eff=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status)
if [ "$cap_eff" != 0000000000000000 ]; then
    violation "the process has capabilities (CapEff $cap_eff); ades drops them all"
fi
interfaces=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); if ($1 != "lo") printf "%s ", $1 }' /proc/net/dev)
if [ -n "$interfaces" ]; then
    violation "network interfaces besides lo: $interfaces(ades runs jobs without network)"
fi

# ades runs every job as a user other than root, on a read-only root filesystem with a
# writable tmpfs at /tmp. A write to / is refused either way for a non-root user, so the
# mount options say whether the filesystem itself is read-only; the refusal's message goes
# into summary.txt.
uid=$(id -u)
if [ "$uid" = 0 ]; then
    violation "the job runs as root (uid 0); ades runs jobs as a non-root user"
fi
root_options=$(mount_options /)
case $root_options in
    ro | ro,*) root_fs=read-only ;;
    *)
        root_fs="writable ($root_options)"
        violation "the root filesystem is mounted $root_options; ades mounts it read-only"
        ;;
esac
root_probe=/.complete-root-probe-$$
if root_write=$( (: > "$root_probe") 2>&1 ); then
    rm -f "$root_probe"
    root_write="created $root_probe"
    violation "a file could be created in / (ades mounts the root filesystem read-only)"
fi
root_write=${root_write##*: }
if ! can_create_in /tmp; then
    violation "no file can be created in /tmp (ades mounts a writable tmpfs there)"
fi

if [ "$failures" -gt 0 ]; then
    echo "complete: $failures contract check(s) failed" >&2
    exit 10
fi
echo "complete: the runtime contract holds (uid $(id -u), input ${input_mib} MiB)"

# ---------------------------------------------------------------------------------------
# Phase 2: the data.

# MAX_LINES is a checked JSON integer: below 1 means a sign or a lone zero (a pattern, as
# test(1) cannot compare integers of any size).
case ${MAX_LINES:-1} in
    -* | 0)
        echo "invalid input: MAX_LINES is $MAX_LINES, it must be at least 1" >&2
        exit 11
        ;;
esac
case $MODE in
    plain | numbered) ;;
    *)
        echo "invalid setting: MODE is $(show "$MODE"), expected plain or numbered" >&2
        exit 12
        ;;
esac
empty=
note_if_empty() {
    if [ ! -s "$1" ]; then
        empty="$empty ${1##*/}"
    fi
}
for_each_entry "$INPUT_FILES" note_if_empty
if [ -n "$empty" ]; then
    echo "invalid input: empty file(s) in INPUT_FILES:$empty" >&2
    exit 11
fi

# ---------------------------------------------------------------------------------------
# Phase 3: the work.

upper=0
[ "$UPPERCASE" = true ] && upper=1
numbered=0
[ "$MODE" = numbered ] && numbered=1

# printf, not echo: values may start with "-" or hold backslashes.
summary="$OUTPUT_DIR/summary.txt"
{
    printf 'label: %s\n' "$LABEL"
    printf 'mode: %s\n' "$MODE"
    printf 'uppercase: %s\n' "$UPPERCASE"
    printf 'max lines: %s\n' "${MAX_LINES:-all}"
    printf 'uid: %s\n' "$uid"
    printf 'root filesystem: %s\n' "$root_fs"
    printf 'write to /: %s\n' "$root_write"
} > "$summary"

index=0
total_lines=0
file_names=
write_part() {
    index=$((index + 1))
    part="$OUTPUT_DIR/part-$index.txt"
    awk -v max="${MAX_LINES:-0}" -v upper="$upper" -v numbered="$numbered" '
        max > 0 && NR > max { exit }
        {
            line = $0
            if (upper) line = toupper(line)
            if (numbered) printf "%d: %s\n", NR, line
            else print line
        }' < "$1" > "$part"
    lines=$(wc -l < "$part")
    total_lines=$((total_lines + lines))
    printf 'file %s: %d line(s) -> part-%d.txt\n' "${1##*/}" "$lines" "$index" >> "$summary"
    file_names="$file_names${file_names:+,}$(json_string "${1##*/}")"
}
for_each_entry "$INPUT_FILES" write_part

scaled_total=$(awk -v t="$total_lines" -v f="$FACTOR" 'BEGIN { printf "%.15g", t * f }')
case $scaled_total in
    *[!0-9eE.+-]*)
        echo "invalid input: FACTOR $FACTOR times $total_lines lines is not a finite number" >&2
        exit 11
        ;;
esac

reference_entries=0
count_reference() {
    reference_entries=$((reference_entries + 1))
}
for_each_entry "$reference_mount" count_reference
{
    printf 'total lines: %d\n' "$total_lines"
    printf 'scaled total: %s\n' "$scaled_total"
    printf 'reference entries: %d\n' "$reference_entries"
} >> "$summary"

# Only the first line of SUPPLEMENT is read: the input is declared partial.
supplement_member=
if [ -n "${SUPPLEMENT:-}" ]; then
    first_line=$(head -n 1 "$SUPPLEMENT")
    printf 'supplement: %s\n' "$first_line" >> "$summary"
    supplement_member=",
  \"supplementFirstLine\": $(json_string "$first_line")"
else
    echo "supplement: none" >> "$summary"
fi

# Optional json inputs default to empty containers in what is written below.
tags_json=${TAGS:-}
[ -n "$tags_json" ] || tags_json='[]'
options_json=${OPTIONS:-}
[ -n "$options_json" ] || options_json='{}'

# The side-car: a GeoJSON Feature (seed.metadata.schema.json) for summary.txt.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > "$summary.metadata.json" <<EOF
{
  "type": "Feature",
  "geometry": {
    "type": "Polygon",
    "coordinates": [[[10.0, 50.0], [11.0, 50.0], [11.0, 51.0], [10.0, 51.0], [10.0, 50.0]]]
  },
  "properties": {
    "dataStarted": "$now",
    "dataEnded": "$now",
    "label": $(json_string "$LABEL"),
    "tags": $tags_json
  }
}
EOF

# seed.outputs.json: keys differ from output names where the manifest sets "key";
# supplementFirstLine only when SUPPLEMENT was given; UNUSED never; "extra" is not declared
# and must be ignored.
cat > "$OUTPUT_DIR/seed.outputs.json" <<EOF
{
  "totalLines": $total_lines,
  "scaledTotal": $scaled_total,
  "label": $(json_string "$LABEL"),
  "UPPERCASED": $UPPERCASE,
  "fileNames": [$file_names],
  "options": $options_json$supplement_member,
  "extra": "not declared in the manifest; ignored"
}
EOF

# The rw mount keeps a note of the run (no secret in it).
{
    printf 'label: %s\n' "$LABEL"
    printf 'total lines: %d\n' "$total_lines"
} > "$scratch_mount/complete-last-run.txt"

# The executor reads the outputs, possibly as another user.
chmod a+r "$OUTPUT_DIR"/*
echo "complete: wrote $index part file(s), $total_lines line(s) in all"
