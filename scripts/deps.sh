#!/usr/bin/env bash
# Installs tagvmm's build and test dependencies on Debian 12 when missing.
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail

packages=(build-essential autoconf automake pkg-config check libfdt-dev linux-libc-dev
	  clang libclang-rt-14-dev)
[ "${TAGVMM_DEPS_EXTRA:-}" ] && read -r -a extra <<<"$TAGVMM_DEPS_EXTRA" && packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
