#!/usr/bin/env bash
# One command for the whole comparison: builds Giftwrap's benchmarks and the libwrap
# peer, writes the benchmark tables once, checks that both decide the probes alike,
# times libwrap's hosts_access(), measures the 100,000-line table's load time and
# memory, then runs BenchmarkDotNet (short job). Results go to stdout; BenchmarkDotNet's
# reports also go to bench/BenchmarkDotNet.Artifacts/results/.
#
#   bench/run.sh                      everything (about 5-8 minutes on 2 cores)
#   bench/run.sh --filter '*Small*'   BenchmarkDotNet arguments replace the default --filter '*'
#
# Environment: SMALL_ITERATIONS (default 100000) and F2B_ITERATIONS (default 50) for libwrap.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$repo"

small_iterations=${SMALL_ITERATIONS:-100000}
f2b_iterations=${F2B_ITERATIONS:-50}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

section() { printf '\n==== %s ====\n' "$*"; }

section "machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel: $(uname -sr)"
echo "dotnet: $(dotnet --version)"
echo "gcc: $(gcc --version | head -n1)"
echo "libwrap: $(dpkg-query -W -f='${Package} ${Version}' libwrap0 2>/dev/null || echo unknown)"

section "build"
dotnet build -c Release --nologo -v quiet "$here/Giftwrap.Benchmarks" | tail -n 3
"$here/libwrap/build.sh"
bench_dll="$here/Giftwrap.Benchmarks/bin/Release/net10.0/Giftwrap.Benchmarks.dll"

tables=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-bench-tables.XXXXXX")
trap 'rm -rf "$tables"' EXIT
section "tables ($tables)"
dotnet "$bench_dll" tables "$tables"
wc -l "$tables"/small/hosts.allow "$tables"/small/hosts.deny "$tables"/fail2ban/hosts.allow "$tables"/fail2ban/hosts.deny
# shellcheck disable=SC1091
. "$tables/probes.env"

section "verdicts (both sides must agree)"
dotnet "$bench_dll" verdicts "$tables"
lw="$here/libwrap/bench_hosts_access"
"$lw" "$tables/small/hosts.allow" "$tables/small/hosts.deny" "$DAEMON" "$SMALL_ALLOWED" 1 small-allowed | awk '{print $1, $2, $3, $4}'
"$lw" "$tables/small/hosts.allow" "$tables/small/hosts.deny" "$DAEMON" "$SMALL_REFUSED" 1 small-refused | awk '{print $1, $2, $3, $4}'
"$lw" "$tables/fail2ban/hosts.allow" "$tables/fail2ban/hosts.deny" "$DAEMON" "$F2B_UNLISTED" 1 fail2ban-unlisted | awk '{print $1, $2, $3, $4}'
"$lw" "$tables/fail2ban/hosts.allow" "$tables/fail2ban/hosts.deny" "$DAEMON" "$F2B_LAST" 1 fail2ban-last | awk '{print $1, $2, $3, $4}'

section "libwrap hosts_access()"
"$lw" "$tables/small/hosts.allow" "$tables/small/hosts.deny" "$DAEMON" "$SMALL_ALLOWED" "$small_iterations" small-allowed
"$lw" "$tables/small/hosts.allow" "$tables/small/hosts.deny" "$DAEMON" "$SMALL_REFUSED" "$small_iterations" small-refused
"$lw" "$tables/fail2ban/hosts.allow" "$tables/fail2ban/hosts.deny" "$DAEMON" "$F2B_UNLISTED" "$f2b_iterations" fail2ban-unlisted
"$lw" "$tables/fail2ban/hosts.allow" "$tables/fail2ban/hosts.deny" "$DAEMON" "$F2B_LAST" "$f2b_iterations" fail2ban-last

section "Giftwrap: 100,000-line table, cold load and retained memory"
dotnet "$bench_dll" memory

section "Giftwrap: BenchmarkDotNet (short job)"
if [ $# -eq 0 ]; then set -- --filter '*'; fi
dotnet "$bench_dll" --artifacts "$here/BenchmarkDotNet.Artifacts" "$@"
