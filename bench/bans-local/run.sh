#!/usr/bin/env bash
# Bans on one host (issue 4), side by side with Fail2ban's way, in one run:
#   1. applying 10,000 new bans: Giftwrap's BanMany (one call) and 10,000 Ban calls, each into a
#      fresh durable store, against 10,000 "ALL: a.b.c.d" appends to a hosts.deny (one
#      open/append/close per ban, as Fail2ban's hostsdeny action's `echo ... >> hosts.deny`),
#      then what each costs per connection afterwards (libwrap's hosts_access() on the grown file);
#   2. the gate's per-connection cost (BanStore.Find, then AccessTables.Decide) with no bans and
#      with 1,000,000 (BenchmarkDotNet, short job with 10 iterations), and libwrap on a 1,000,000-line hosts.deny;
#   3. memory of 1,000,000 bans: managed heap retained and process RSS (and libwrap's peak RSS).
#
#   bench/bans-local/run.sh          about 5-7 minutes on 2 shared cores; every step is time-bounded
#
# Environment: BANS (default 10000), ROUNDS (3), BIG (1000000), F2B_ITERATIONS (300, libwrap on the
# 10,000-line file), BIG_ITERATIONS (3, libwrap on the 1,000,000-line file), KEEP=1 keeps the work dir.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
bans=${BANS:-10000}
rounds=${ROUNDS:-3}
big=${BIG:-1000000}
f2b_iterations=${F2B_ITERATIONS:-300}
big_iterations=${BIG_ITERATIONS:-3}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-bans-local.XXXXXX")
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

section() { printf '\n==== %s ====\n' "$*"; }
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); io pressure: $(head -n1 /proc/pressure/io 2>/dev/null || echo n/a)"; }
start=$(date +%s)

section "machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory: $(free -m | awk '/^Mem:/ {print $2 " MB total, " $7 " MB available"}')"
echo "kernel: $(uname -sr)"
echo "filesystem of $work: $(df -T "$work" | awk 'NR==2 {print $2 " on " $1}')"
echo "dotnet: $(dotnet --version)"
echo "gcc: $(gcc --version | head -n1)"
echo "libwrap: $(dpkg-query -W -f='${Package} ${Version}' libwrap0 2>/dev/null || echo unknown)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
load

section "build"
timeout 300 dotnet build -c Release --nologo -v quiet "$here/Giftwrap.BansBenchmarks" | tail -n 3
gcc -O2 -Wall -Wextra -o "$work/hosts_access_loop" "$here/hosts_access_loop.c" -lwrap
dll="$here/Giftwrap.BansBenchmarks/bin/Release/net10.0/Giftwrap.BansBenchmarks.dll"
bench() { dotnet "$dll" "$@"; }
lw="$work/hosts_access_loop"

section "1a. Giftwrap: apply $bans new bans (durable: fsync before each acknowledgement)"
load
timeout 300 dotnet "$dll" apply "$work/giftwrap" "$bans" "$rounds"
allow="$work/giftwrap/tables/hosts.allow"   # the same small hosts.allow for both sides

section "1b. Fail2ban's way: $bans appends of 'ALL: a.b.c.d' to hosts.deny (no fsync)"
load
bench addresses "$bans" "$work/addresses.txt"
ms() { echo $(( ($2 - $1) / 1000000 )); }
for r in $(seq 1 "$rounds"); do
    deny="$work/f2b-builtin-$r.deny"; : > "$deny"
    t0=$(date +%s%N)
    # bash's builtin echo: one open(O_APPEND)/write/close per ban, no process started.
    while IFS= read -r ip; do echo "ALL: $ip" >> "$deny"; done < "$work/addresses.txt"
    t1=$(date +%s%N)
    echo "append, builtin echo >>   round $r: $(wc -l < "$deny") lines in $(ms "$t0" "$t1") ms ($(( (t1 - t0) / 1000 / bans )) us/ban)"
done
# Fail2ban runs each actionban through a shell (/bin/sh -c 'echo "ALL: <ip>" >> /etc/hosts.deny'),
# so each ban also starts a process. Fail2ban's own Python, filters and database are not counted.
deny="$work/f2b-sh.deny"; : > "$deny"
t0=$(date +%s%N)
timeout 180 bash -c 'while IFS= read -r ip; do /bin/sh -c "echo \"ALL: \$1\" >> \"\$2\"" sh "$ip" "$1"; done < "$2"' _ "$deny" "$work/addresses.txt"
t1=$(date +%s%N)
echo "append, one /bin/sh -c per ban:  $(wc -l < "$deny") lines in $(ms "$t0" "$t1") ms ($(( (t1 - t0) / 1000 / bans )) us/ban)"
cmp -s "$deny" "$work/f2b-builtin-1.deny" && echo "both ways wrote the same file: $(wc -c < "$deny") bytes"

section "1c. afterwards, per connection: libwrap hosts_access() on the $bans-line hosts.deny"
last=$(tail -n1 "$work/addresses.txt"); first=$(head -n1 "$work/addresses.txt")
"$lw" "$allow" "$deny" sshd 10.1.2.3 "$f2b_iterations" "granted-by-allow"
"$lw" "$allow" "$deny" sshd 198.51.100.7 "$f2b_iterations" "unlisted(full-scan)"
"$lw" "$allow" "$deny" sshd "$last" "$f2b_iterations" "banned-last-line"
"$lw" "$allow" "$deny" sshd "$first" "$f2b_iterations" "banned-first-line"
echo "(Giftwrap's per-connection figures on its $bans-ban store are at the end of 1a.)"

section "2/3 setup: a store of $big bans (one BanMany) and a $big-line hosts.deny"
load
store="$work/store-big"
timeout 240 dotnet "$dll" make-store "$store" "$big"
bench hosts-deny "$big" "$work/big.deny"
echo "hosts.deny: $(wc -l < "$work/big.deny") lines, $(( $(wc -c < "$work/big.deny") / 1048576 )) MB"

section "3. memory of $big bans"
load
timeout 120 dotnet "$dll" memory "$store"
timeout 120 "$lw" "$allow" "$work/big.deny" sshd 198.51.100.7 1 "unlisted-${big}-lines"

section "2. per connection with $big bans: libwrap hosts_access() on the $big-line hosts.deny"
timeout 180 "$lw" "$allow" "$work/big.deny" sshd 198.51.100.7 "$big_iterations" "unlisted(full-scan)"
timeout 180 "$lw" "$allow" "$work/big.deny" sshd "$(tail -n1 "$work/big.deny" | cut -d" " -f2)" "$big_iterations" "banned-last-line"

section "2. per connection: Giftwrap's gate path, BenchmarkDotNet (short job, 10 iterations), 0 vs $big bans"
load
GIFTWRAP_BENCH_STORE_1M="$store" timeout 480 dotnet "$dll" --filter '*GateDecision*' --artifacts "$work/artifacts" \
    | sed -n '/^BenchmarkDotNet v/,$p' | grep -v '^\s*$' | grep -v -E '^(// |  Ratio|  Alloc|  Mean|  Error|  StdDev|  RatioSD|  Gen0|  Allocated|  1 ns|Legends|\* Legend|  Job=|WarmupCount|  Bans )' || true
load
echo "total: $(( $(date +%s) - start )) s"
