#!/bin/sh
# run_detection_exports.sh — exports torchvision's detection models (random weights,
# export_detection.py; needs Debian's python3-torchvision) and runs each with
# `mlufuse run --expect`: their postprocessing runs in stages (docs/onnx.md).  Not part of
# `make test` (minutes per model).
#
#   tests/models/run_detection_exports.sh BUILD_DIR [OUTDIR [NAME ...]]
set -e
build=${1:?usage: run_detection_exports.sh BUILD_DIR [OUTDIR [NAME ...]]}
out=${2:-/tmp/mlufuse-detection}
[ $# -ge 2 ] && shift 2 || shift $#
here=$(dirname "$0")
/usr/bin/python3 "$here/export_detection.py" "$out" "$@"
status=0
for d in "$out"/*/; do
    [ -f "$d/model.onnx" ] || continue
    echo "== $(basename "$d")"
    set --
    for o in "$d"/output_*.npy; do set -- "$@" --expect "$o"; done
    "$build/mlufuse" run "$d/model.onnx" -i "$d/input_0.npy" "$@" || status=1
done
exit $status
