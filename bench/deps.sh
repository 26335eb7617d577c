#!/bin/bash
# bench/deps.sh: what `make bench` needs beyond tests/deps.sh (which
# `make bench` runs first through `make deps`): gnuplot for the plot.
# Only what is missing is installed; without gnuplot the benchmarks still
# run, and only the plot is skipped.
set -u
command -v gnuplot >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "bench/deps.sh: gnuplot is missing (apt-get install gnuplot-nox): no plot this time" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null 2>&1; } ||
	echo "bench/deps.sh: could not install gnuplot-nox: no plot this time" >&2
exit 0
