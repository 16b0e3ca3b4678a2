#!/usr/bin/env bash
# Two commits side by side in one run: did a change make decisions or the gate slower?
# Builds both commits from git (git archive, so the working tree does not matter) and
# measures, rounds interleaved so both see the same machine:
#   1. per-decision time (BenchmarkDotNet, the SmallTable and Fail2ban decision benchmarks
#      of bench/Giftwrap.Benchmarks, short job), each commit's own benchmark project;
#   2. connections per second through `giftwrap serve` forward (bench/gate/connload.c against
#      bench/gate/responder.c), both builds' gates up at once, ROUNDS rounds alternating;
#   3. start-to-exit of `giftwrap-tcpd /bin/true` with a real socket on fds 0-2
#      (bench/gate/execbench.c), both builds interleaved, beside libwrap's tcpd.
#
#   bench/compare/run.sh BASE [NEW]      NEW defaults to HEAD; e.g. bench/compare/run.sh c343721
#
# Environment: ROUNDS (5) RATE_COUNT (40000) RATE_THREADS (8) EXEC_COUNT (300)
#   COMPARE_PORT_BASE (27300; ports +0..+3), COMPARE_SKIP_BDN=1 to skip part 1.
# Loopback only; every load loop bounded in count and time; every process stopped by pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
base_rev=${1:?usage: bench/compare/run.sh BASE [NEW]}
new_rev=${2:-HEAD}
rounds=${ROUNDS:-5}
rate_count=${RATE_COUNT:-40000}
rate_threads=${RATE_THREADS:-8}
exec_count=${EXEC_COUNT:-300}
port=${COMPARE_PORT_BASE:-27300}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

section() { printf '\n==== %s ====\n' "$*"; }
die() { printf 'compare: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-compare.XXXXXX")
# shared helpers: start, stop_all, wait_listening, kv, median
# shellcheck source=../lib/procs.sh
. "$here/../lib/procs.sh"
cleanup() {
    stop_all
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section "commits"
declare -A SHA=()
for side in base new; do
    rev=$base_rev; [ "$side" = new ] && rev=$new_rev
    SHA[$side]=$(git -C "$repo" rev-parse --short "$rev") || die "no such commit: $rev"
    printf '%-5s %s  %s\n' "$side" "${SHA[$side]}" "$(git -C "$repo" log -1 --format=%s "$rev")"
done
echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); dotnet: $(dotnet --version)"

section "build (NativeAOT publish of giftwrap and giftwrap-tcpd from each commit)"
bin="$work/bin"; mkdir -p "$bin"
for p in connload responder execbench; do
    gcc -O2 -Wall -pthread -I "$repo/bench/lib" -o "$bin/$p" "$repo/bench/gate/$p.c"
done
for side in base new; do
    src="$work/$side-src"; mkdir -p "$src"
    git -C "$repo" archive "${SHA[$side]}" | tar -x -C "$src"
    for proj in Giftwrap.Cli:giftwrap Giftwrap.Tcpd:giftwrap-tcpd; do
        (cd "$src" && dotnet publish "src/${proj%%:*}" -c Release -r linux-x64 -o "$work/$side-${proj#*:}" --nologo -v quiet >"$work/$side-${proj#*:}.log" 2>&1) \
            || { tail -n 30 "$work/$side-${proj#*:}.log" >&2; die "publish of ${proj%%:*} at ${SHA[$side]} failed"; }
    done
    echo "$side: $(stat -c %s "$work/$side-giftwrap/giftwrap") bytes giftwrap, $(stat -c %s "$work/$side-giftwrap-tcpd/giftwrap-tcpd") bytes giftwrap-tcpd"
done

if [ "${COMPARE_SKIP_BDN:-0}" != 1 ]; then
    section "1. per decision (BenchmarkDotNet short job, each commit's bench/Giftwrap.Benchmarks)"
    for side in base new; do
        src="$work/$side-src"
        (cd "$src" && dotnet build bench/Giftwrap.Benchmarks -c Release --nologo -v quiet >"$work/$side-bdn-build.log" 2>&1) \
            || { tail -n 30 "$work/$side-bdn-build.log" >&2; die "benchmark build at ${SHA[$side]} failed"; }
        (cd "$src" && dotnet bench/Giftwrap.Benchmarks/bin/Release/net10.0/Giftwrap.Benchmarks.dll \
            --artifacts "$work/$side-bdn" --filter '*SmallTable*' '*Fail2ban*' >"$work/$side-bdn.log" 2>&1) \
            || { tail -n 30 "$work/$side-bdn.log" >&2; die "benchmarks at ${SHA[$side]} failed"; }
        echo "-- $side (${SHA[$side]})"
        cat "$work/$side-bdn"/results/*-report-github.md 2>/dev/null | grep -E '^\|' | grep -v ':---' || true
    done
fi

section "2. connections per second through serve forward ($rounds rounds alternating; $rate_count connections, $rate_threads threads)"
# the tables in a directory of their own: serve watches it (inotify), and its console output in
# $work would be a change to look at every 10 ms
mkdir -p "$work/tables"
printf 'ALL: ALL\n' >"$work/tables/hosts.allow"; printf '# empty\n' >"$work/tables/hosts.deny"
start responder "$bin/responder" "$port" reply 900
declare -A PORT=([base]=$((port + 1)) [new]=$((port + 2)))
for side in base new; do
    printf '[tables]\nallow = %s\ndeny = %s\n\n[service:rate]\nlisten = 127.0.0.1:%s\nforward = 127.0.0.1:%s\n\n[limits]\nmax_connections = 20000\nmax_per_source = 20000\n\n[log]\nsyslog = off\n' \
        "$work/tables/hosts.allow" "$work/tables/hosts.deny" "${PORT[$side]}" "$port" >"$work/$side.conf"
    start "serve-$side" "$work/$side-giftwrap/giftwrap" serve --config "$work/$side.conf"
done
wait_listening "$port" responder
wait_listening "${PORT[base]}" serve-base
wait_listening "${PORT[new]}" serve-new
declare -A RATES=() P99=()
for round in $(seq 1 "$rounds"); do
    order="base new"; [ $((round % 2)) = 0 ] && order="new base"
    for side in $order; do
        r=$(timeout 60 "$bin/connload" run 127.0.0.1 "${PORT[$side]}" "$rate_count" "$rate_threads" 15 || echo "RESULT failed")
        RATES[$side]="${RATES[$side]:-} $(kv rate <<<"$r")"
        P99[$side]="${P99[$side]:-} $(kv p99_us <<<"$r")"
        printf 'round %s %-4s %s\n' "$round" "$side" "${r#RESULT }"
        sleep 0.5
    done
done

section "3. giftwrap-tcpd /bin/true start to exit ($exec_count runs each, interleaved)"
ex=$(timeout 600 "$bin/execbench" "$exec_count" :: tcpd /usr/sbin/tcpd /bin/true \
    :: base "$work/base-giftwrap-tcpd/giftwrap-tcpd" giftwrap-tcpd /bin/true \
    :: new "$work/new-giftwrap-tcpd/giftwrap-tcpd" giftwrap-tcpd /bin/true)
printf '%s\n' "$ex"

section "summary"
med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }
rb=$(med "${RATES[base]}"); rn=$(med "${RATES[new]}")
echo "| measure | base ${SHA[base]} | new ${SHA[new]} | new/base |"
echo "|---|---|---|---|"
echo "| serve forward, conn/s (median of $rounds) | $rb | $rn | $(awk -v a="$rn" -v b="$rb" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}') |"
echo "| serve forward, p99 us (median) | $(med "${P99[base]}") | $(med "${P99[new]}") | |"
tb=$(grep 'label=base ' <<<"$ex" | kv median_us); tn=$(grep 'label=new ' <<<"$ex" | kv median_us)
echo "| giftwrap-tcpd /bin/true, median us | ${tb:-?} | ${tn:-?} | $(awk -v a="${tn:-0}" -v b="${tb:-0}" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}') |"
echo "| libwrap tcpd /bin/true, median us | $(grep 'label=tcpd ' <<<"$ex" | kv median_us) | | |"
