#!/usr/bin/env bash
# warm_test_cache.sh BUILD_DIR SHARED_DIR — the test suite's warm-cache fixture: runs each
# shared model the way the end-to-end tests do (fused, core_number 4, fusion off), so that
# their kernels are in BUILD_DIR/test-cache and those tests load instead of compiling.  The
# cache stays between runs of `make test`; tests about cold caches use their own folders.
set -euo pipefail
build=$1
shared=$2
export MLUFUSE_CACHE_DIR="$build/test-cache"
unset MLUFUSE_CACHE
for m in mnist_net elementwise_chain mobilenet_v2 resnet18; do
  model="$shared/models/$m/model.onnx"
  "$build/mlufuse" run "$model" --random --json >/dev/null
  "$build/mlufuse" run "$model" --random --core-number 4 --json >/dev/null
done
for m in mobilenet_v2 resnet18; do
  DISABLE_MLU_FUSION=1 "$build/mlufuse" run "$shared/models/$m/model.onnx" --random --json >/dev/null
done
echo "warm_cache: the shared models' kernels are in $MLUFUSE_CACHE_DIR"
