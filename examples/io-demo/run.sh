#!/bin/sh
# io-demo: copies its input file to OUTPUT_DIR/new-output.txt.
# Like the Scale tutorial's program it takes its paths as arguments, which the manifest's
# command "${INPUT_FILE} ${OUTPUT_DIR}" supplies; the environment is not read.
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: run.sh INPUT_FILE OUTPUT_DIR (got $# arguments)" >&2
    exit 1
fi
input=$1
output_dir=$2

cp "$input" "$output_dir/new-output.txt"
# The executor reads the outputs, possibly as another user: make them readable.
chmod a+r "$output_dir/new-output.txt"
echo "io-demo: copied $(wc -c < "$input") bytes to new-output.txt"
