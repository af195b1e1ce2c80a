#!/usr/bin/env bash
# Installs the Debian packages attnbench builds and tests with, if missing.
# Usage: scripts/deps.sh   (as root, or with sudo available)
set -euo pipefail

# ocl-icd-opencl-dev: Debian's dnnl CMake package requires OpenCL (only a Recommends).
packages=(build-essential cmake pkg-config libopenblas-dev libdnnl-dev ocl-icd-opencl-dev libhwloc-dev libjansson-dev gnuplot-nox
          libcriterion-dev python3-numpy)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "attnbench: error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
echo "attnbench: installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
