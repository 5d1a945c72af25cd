#!/bin/sh
# run_detection_exports.sh — exports torchvision's detection models (random weights,
# export_detection.py; needs Debian's python3-torchvision), runs each with `mlufuse run`
# (their postprocessing runs in stages, docs/onnx.md) and compares its detections with
# PyTorch's as a set, allowing near-equal scores in either order (compare_detections.py).
# Not part of `make test` (minutes per model).
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
    rm -f "$d"/output[0-9]*.npy
    "$build/mlufuse" run "$d/model.onnx" -i "$d/input_0.npy" -o "$d" > "$d/run.log" 2>&1 &&
        /usr/bin/python3 "$here/compare_detections.py" "$d" "$d" || { status=1; tail -3 "$d/run.log"; }
done
exit $status
