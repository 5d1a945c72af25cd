#!/usr/bin/env bash
# setup.sh [fuzz|torch|qemu] — installs the Debian packages mlufuse needs, only those
# missing.  Called by `make run` and `make test`; safe to run again.  Needs root (or sudo)
# the first time.
set -euo pipefail

packages=(build-essential cmake pkg-config llvm-19-dev libffi-dev libcmocka-dev
          protobuf-c-compiler libprotobuf-c-dev libonnx-dev nettle-dev
          libjpeg62-turbo-dev libpng-dev python3-numpy python3-pytest)
# `setup.sh fuzz` adds clang and its libFuzzer runtime for `make fuzz`; `setup.sh torch`
# adds PyTorch (large) for mlufuse.from_torch and its test (skipped without it).
[ "${1:-}" = fuzz ] && packages+=(clang-14 libclang-rt-14-dev)
[ "${1:-}" = torch ] && packages+=(python3-torch python3-torchvision)
# `setup.sh qemu` adds qemu-user for `make test-avx2` (the tests as on another x86-64 CPU).
[ "${1:-}" = qemu ] && packages+=(qemu-user)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
