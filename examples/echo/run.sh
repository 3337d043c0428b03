#!/bin/sh
# echo: writes MESSAGE to echo.txt REPEAT times (default 1), copies the optional
# COMPLEX_INPUT file to complex-echo, and returns the message as the json output ECHOED
# (key "message" in seed.outputs.json). Everything comes from the environment: the manifest
# declares no command.
set -eu

if [ "${MESSAGE+set}" != set ]; then
    echo "echo: MESSAGE is not set (it is a required input)" >&2
    exit 10
fi

repeat=${REPEAT-1}
case $repeat in
    '' | *[!0-9]*)
        echo "echo: REPEAT must be an integer from 0 to 1000, got '$repeat'" >&2
        exit 2
        ;;
esac
# The length test first keeps huge numbers away from test(1); sed drops leading zeros.
repeat=$(printf '%s' "$repeat" | sed 's/^0*\([0-9]\)/\1/')
if [ "${#repeat}" -gt 4 ] || [ "$repeat" -gt 1000 ]; then
    echo "echo: REPEAT must be an integer from 0 to 1000, got $repeat" >&2
    exit 2
fi

# printf, not echo: the message may start with "-" or hold backslashes.
: > "$OUTPUT_DIR/echo.txt"
i=0
while [ "$i" -lt "$repeat" ]; do
    printf '%s\n' "$MESSAGE" >> "$OUTPUT_DIR/echo.txt"
    i=$((i + 1))
done

if [ -n "${COMPLEX_INPUT:-}" ]; then
    cp "$COMPLEX_INPUT" "$OUTPUT_DIR/complex-echo"
fi

# MESSAGE as a JSON string: quotes, backslashes and control characters escaped, other bytes
# (UTF-8 included) kept. It goes through ENVIRON because awk -v would eat backslashes.
message_json=$(awk 'BEGIN {
    for (k = 1; k < 32; k++) ctl[sprintf("%c", k)] = sprintf("\\u%04x", k)
    ctl["\n"] = "\\n"; ctl["\t"] = "\\t"; ctl["\r"] = "\\r"
    s = ENVIRON["MESSAGE"]; out = "\""
    n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c == "\\") out = out "\\\\"
        else if (c == "\"") out = out "\\\""
        else if (c in ctl) out = out ctl[c]
        else out = out c
    }
    printf "%s\"", out
}')
printf '{"message": %s}\n' "$message_json" > "$OUTPUT_DIR/seed.outputs.json"

# The executor reads the outputs, possibly as another user.
chmod a+r "$OUTPUT_DIR"/*
echo "echo: wrote the message $repeat time(s)${COMPLEX_INPUT:+ and copied ${COMPLEX_INPUT##*/}}"
