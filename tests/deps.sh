#!/bin/bash
# tests/deps.sh: installs, with apt-get, what the build, the tests and the
# demo need on Debian 12 -- only what is missing. `make check` and
# `make demo` run it first.
set -euo pipefail

PACKAGES=(
	# build
	clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjansson-dev libseccomp-dev
	libcmocka-dev pkg-config make gcc linux-libc-dev
	# tests and demo
	runc busybox-static iproute2 jq socat netcat-openbsd iperf3 nftables
	util-linux coreutils procps
	# the podman and packaging tests (tests/integration/7*)
	podman python3 python3-yaml groff-base mandoc man-db
	# hardening tests (tests/integration/9*): syscall injection, memcheck
	strace valgrind
	# `stats --prometheus` is checked with promtool
	prometheus
	# make check-package: .deb and .rpm builds, lintian
	debhelper dpkg-dev lintian rpm cpio
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: not a Debian system (no dpkg/apt-get); install by hand: ${PACKAGES[*]}" >&2
	exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps.sh: all ${#PACKAGES[@]} packages are installed"
	exit 0
fi

echo "deps.sh: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root to install them (sudo make check)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps.sh: installed ${missing[*]}"
