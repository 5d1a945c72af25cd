#!/bin/sh
# run_export_zoo.sh — exports the model zoo of export_zoo.py (random weights; Debian's
# python3-torchvision) and runs each with `mlufuse run --expect`, fused and with
# DISABLE_MLU_FUSION=1, every kernel compiled (--tier full: not the generic kernels of a
# first run); prints one line per model.  Not part of `make test` (minutes).
#
#   tests/models/run_export_zoo.sh BUILD_DIR [OUTDIR [NAME ...]]
build=${1:?usage: run_export_zoo.sh BUILD_DIR [OUTDIR [NAME ...]]}
out=${2:-/tmp/mlufuse-zoo}
[ $# -ge 2 ] && shift 2 || shift $#
here=$(dirname "$0")
[ -n "$NO_EXPORT" ] || /usr/bin/python3 "$here/export_zoo.py" "$out" "$@" 2>/dev/null
status=0
for d in "$out"/*/; do
    [ -f "$d/model.onnx" ] || continue
    name=$(basename "$d")
    if [ $# -gt 0 ]; then case " $* " in *" $name "*) ;; *) continue ;; esac; fi
    args="" k=0
    while [ -f "$d/input_$k.npy" ]; do args="$args -i $d/input_$k.npy"; k=$((k + 1)); done
    k=0
    while [ -f "$d/output_$k.npy" ]; do args="$args --expect $d/output_$k.npy"; k=$((k + 1)); done
    for mode in fused unfused; do
        if [ $mode = unfused ]; then export DISABLE_MLU_FUSION=1; else unset DISABLE_MLU_FUSION; fi
        # shellcheck disable=SC2086
        if "$build/mlufuse" run "$d/model.onnx" --tier full $args > "$d/$mode.log" 2>&1; then
            echo "$name $mode: ok"
        else
            status=1
            echo "$name $mode: FAIL: $(tr '\r' '\n' < "$d/$mode.log" | grep -iE 'error|mismatch|refus|onnx:' | head -3 | tr '\n' ' ')"
        fi
    done
done
exit $status
