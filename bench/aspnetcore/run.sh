#!/usr/bin/env bash
# The Kestrel benchmark of Giftwrap.AspNetCore: new connections per second that a minimal
# Kestrel app (plain HTTP, one endpoint) accepts and answers, without and with
# ListenOptions.UseGiftwrap(), measured by wrk with "Connection: close" (every request is a
# new TCP connection, so every request pays one Giftwrap decision). Both apps run side by
# side; the rounds alternate which variant goes first, so drift on a busy machine hits both.
#
#   bench/aspnetcore/run.sh        about 2 minutes with the defaults, plus the build
#
# Knobs: ROUNDS (9) SECONDS_PER_RUN (5) CONNECTIONS (32) WRK_THREADS (1) PORT_BASE (27300).
# Prints a Markdown table and the difference of the medians (the goal of issue #5: under 3%),
# and beside the rate the servers' own CPU time per connection (from /proc), which other
# work on a busy machine disturbs much less than the rate.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rounds=${ROUNDS:-9}
seconds=${SECONDS_PER_RUN:-5}
connections=${CONNECTIONS:-32}
threads=${WRK_THREADS:-1}
base=${PORT_BASE:-27300}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "run.sh: installing wrk"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null || die "apt-get install wrk failed"
fi

echo "run.sh: building the bench app (Release)"
out=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$out"
}
trap cleanup EXIT
dotnet build "$here/BenchApp/BenchApp.csproj" -c Release -nologo -v quiet -o "$out/bin" >/dev/null || die "build failed"

declare -A port=([off]=$base [on]=$((base + 1)))
declare -A server=()
for v in off on; do
    dotnet "$out/bin/Giftwrap.Bench.AspNetCore.dll" --giftwrap="$v" --port="${port[$v]}" \
        --allow="$here/hosts.allow" --deny="$here/hosts.deny" >"$out/$v.log" 2>&1 &
    pids+=($!)
    server[$v]=$!
done
# Each app prints one line once it listens; the guarded one names the rules it loaded.
declare -A ready=([off]="giftwrap off" [on]="giftwrap on: (4, 1) rules")
for v in off on; do
    for _ in $(seq 1 300); do
        grep -qF "${ready[$v]}" "$out/$v.log" && break
        sleep 0.1
    done
    grep -qF "${ready[$v]}" "$out/$v.log" || die "the $v app did not start as expected: $(cat "$out/$v.log")"
done
echo "run.sh: $(cat "$out/on.log")"

# CPU time (user + system, clock ticks) a server process has used so far: /proc/PID/stat
# fields 14 and 15, counted after the parenthesised command name.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)

# One wrk run; prints "requests/s errors cpu_us_per_connection". Errors are socket errors plus
# non-2xx answers. The server's CPU per connection is far less sensitive than the rate to other
# work on the machine, which only takes turns on the cores.
measure() {
    local v=$1 secs=$2 text before after
    before=$(cpu_ticks "${server[$v]}")
    text=$(wrk -t"$threads" -c"$connections" -d"${secs}s" -H "Connection: close" "http://127.0.0.1:${port[$v]}/")
    after=$(cpu_ticks "${server[$v]}")
    awk -v ticks=$((after - before)) -v hz="$hz" '
         /requests in/ { total = $1 }
         /^Requests\/sec:/ { rps = $2 }
         /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
         /Non-2xx/ { errors += $NF }
         END { printf "%s %d %.1f\n", rps, errors, (total > 0 ? ticks / hz * 1e6 / total : 0) }' <<<"$text"
}

echo "run.sh: warming up (JIT, connection pools) for 3 s each"
measure off 3 >/dev/null
measure on 3 >/dev/null

echo "run.sh: $rounds rounds of ${seconds}s per variant, wrk -t$threads -c$connections -H 'Connection: close'"
results=()
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
    declare -A got=()
    for v in $order; do
        got[$v]=$(measure "$v" "$seconds")
    done
    results+=("$r ${got[off]} ${got[on]}")
    echo "  round $r: without ${got[off]}, with ${got[on]} (conn/s, errors, server CPU us/conn)"
done

echo
printf '%s\n' "${results[@]}" | awk '
    { round[NR] = $1; off[NR] = $2; offerr[NR] = $3; offcpu[NR] = $4; on[NR] = $5; onerr[NR] = $6; oncpu[NR] = $7; n = NR }
    function median(a, count,   i, j, t, s) {
        for (i = 1; i <= count; i++) s[i] = a[i]
        for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
        return count % 2 ? s[(count + 1) / 2] : (s[count / 2] + s[count / 2 + 1]) / 2
    }
    function pct(a, b) { return (b - a) / a * 100 }
    END {
        print "| round | without Giftwrap (conn/s) | with UseGiftwrap (conn/s) | difference | server CPU per connection, without (µs) | with (µs) | difference |"
        print "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for (i = 1; i <= n; i++)
            printf "| %d | %.0f | %.0f | %+.1f%% | %.1f | %.1f | %+.1f%% |\n", round[i], off[i], on[i], pct(off[i], on[i]), offcpu[i], oncpu[i], pct(offcpu[i], oncpu[i])
        mo = median(off, n); mg = median(on, n); co = median(offcpu, n); cg = median(oncpu, n)
        printf "| **median** | **%.0f** | **%.0f** | **%+.1f%%** | **%.1f** | **%.1f** | **%+.1f%%** |\n", mo, mg, pct(mo, mg), co, cg, pct(co, cg)
        for (i = 1; i <= n; i++) errors += offerr[i] + onerr[i]
        printf "\nwrk errors (socket errors + non-2xx) over all runs: %d\n", errors
        d = pct(mo, mg); if (d < 0) d = -d
        printf "goal (medians of conn/s under 3%% apart): %s\n", d < 3 ? "met" : "not met"
    }'
