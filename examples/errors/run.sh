#!/bin/sh
# errors: exits with the code in the json input CODE, after writing result.txt and a line on
# each of stdout and stderr, so an executor's exit-code mapping, log capture and output
# handling on failure can all be observed.
#   0 success; 2 invalid-data (category data, with title and description); 3 job-failed
#   (category left to its default, job); 4 bare-error (no title: it defaults to the name);
#   any other code, e.g. 5, is not declared (an executor reports algorithm-unknown).
set -eu

code=${CODE-}
case $code in
    '' | *[!0-9]*)
        # Only reachable if the executor let a non-integer through: report it as bad data.
        echo "errors: CODE must be an integer from 0 to 255, got '$code'" >&2
        exit 2
        ;;
esac
# Leading zeros are not valid JSON integers; strip them so $((...)) does not read octal.
code=$(printf '%s' "$code" | sed 's/^0*\([0-9]\)/\1/')
# The length test first keeps huge numbers away from test(1), which cannot compare them.
if [ "${#code}" -gt 3 ] || [ "$code" -gt 255 ]; then
    echo "errors: CODE must be an integer from 0 to 255, got $code" >&2
    exit 2
fi

printf 'exit code %d\n' "$code" > "$OUTPUT_DIR/result.txt"
chmod a+r "$OUTPUT_DIR/result.txt"
echo "errors: stdout: exiting with code $code"
echo "errors: stderr: exiting with code $code" >&2
exit "$code"
