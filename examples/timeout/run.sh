#!/bin/sh
# timeout: prints a line, then sleeps SLEEP_SECONDS (default 300), far beyond the manifest's
# timeout of 2 s, so only a hard kill by the executor ends it early. With a short
# SLEEP_SECONDS (e.g. 0) it finishes in time and succeeds, which shows that the timeout is
# measured on the run itself.
set -eu

seconds=${SLEEP_SECONDS:-300}
case $seconds in
    '' | *[!0-9]*)
        echo "timeout: SLEEP_SECONDS must be a non-negative integer, got '$seconds'" >&2
        exit 2
        ;;
esac
echo "timeout: sleeping $seconds s (the manifest's timeout is 2 s)"
# exec: sleep becomes the container's main process, so killing it leaves nothing behind.
exec sleep "$seconds"
