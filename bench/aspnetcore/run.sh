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
# Prints a Markdown table and the difference of the medians (the goal of issue #5: under 3%).
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
for v in off on; do
    dotnet "$out/bin/Giftwrap.Bench.AspNetCore.dll" --giftwrap="$v" --port="${port[$v]}" \
        --allow="$here/hosts.allow" --deny="$here/hosts.deny" >"$out/$v.log" 2>&1 &
    pids+=($!)
done
for v in off on; do
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/${port[$v]}") 2>/dev/null && break
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/${port[$v]}") 2>/dev/null || die "the $v app did not start: $(cat "$out/$v.log")"
done
grep -q "giftwrap off" "$out/off.log" || die "the plain app did not say it runs without Giftwrap: $(cat "$out/off.log")"
grep -q "giftwrap on: (4, 1) rules" "$out/on.log" || die "the guarded app did not load bench/aspnetcore/hosts.*: $(cat "$out/on.log")"
echo "run.sh: $(cat "$out/on.log")"

# One wrk run; prints "requests/s errors" (errors: socket errors plus non-2xx answers).
measure() {
    local v=$1 secs=$2 text
    text=$(wrk -t"$threads" -c"$connections" -d"${secs}s" -H "Connection: close" "http://127.0.0.1:${port[$v]}/")
    awk '/^Requests\/sec:/ { rps = $2 }
         /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
         /Non-2xx/ { errors += $NF }
         END { printf "%s %d\n", rps, errors }' <<<"$text"
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
    echo "  round $r: without ${got[off]%% *}/s, with ${got[on]%% *}/s"
done

echo
printf '%s\n' "${results[@]}" | awk -v secs="$seconds" -v conns="$connections" '
    { round[NR] = $1; off[NR] = $2; offerr[NR] = $3; on[NR] = $4; onerr[NR] = $5; n = NR }
    function median(a, count,   i, j, t, s) {
        for (i = 1; i <= count; i++) s[i] = a[i]
        for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
        return count % 2 ? s[(count + 1) / 2] : (s[count / 2] + s[count / 2 + 1]) / 2
    }
    END {
        print "| round | without Giftwrap (conn/s) | with UseGiftwrap (conn/s) | difference |"
        print "| ---: | ---: | ---: | ---: |"
        for (i = 1; i <= n; i++)
            printf "| %d | %.0f | %.0f | %+.1f%% |\n", round[i], off[i], on[i], (on[i] - off[i]) / off[i] * 100
        mo = median(off, n); mg = median(on, n)
        printf "| **median** | **%.0f** | **%.0f** | **%+.1f%%** |\n", mo, mg, (mg - mo) / mo * 100
        for (i = 1; i <= n; i++) errors += offerr[i] + onerr[i]
        printf "\nwrk errors (socket errors + non-2xx) over all runs: %d\n", errors
        d = (mg - mo) / mo * 100; if (d < 0) d = -d
        printf "goal (under 3%% apart): %s\n", d < 3 ? "met" : "not met"
    }'
