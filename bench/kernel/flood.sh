#!/usr/bin/env bash
# A refusal flood from banned loopback sources against `giftwrap serve`, with and without the
# kernel set (issue 11), side by side in one run, inside a network namespace made for the run
# (`unshare -n`: nft changes never touch the machine's own ruleset, and every packet stays on the
# namespace's own loopback).
#
#   bench/kernel/flood.sh          about 3 minutes; run as root (unshare, nft)
#
# Two gates run at once, each a `forward` service to its own tiny backend (bench/gate/responder.c,
# writes "ok" and closes) plus a `trap` service, each with its own ban store:
#   user   no kernel side: a banned source is accepted, looked up in the store and closed;
#   kernel [kernel] nftables = yes, ports = its forward port: the banned sources' SYNs to that port
#          are dropped in prerouting (before conntrack) before any socket sees them.
# SOURCES addresses (127.1.0.1, 127.1.0.2, ...) are banned first through each gate's trap (one
# connection from each; trap_bans_per_minute raised), then, ROUNDS times and the two gates in turn
# (which goes first alternates), four windows of WINDOW seconds each:
#   alone   the legitimate clients (bench/gate/connload.c, LEGIT_THREADS blocking clients from
#           127.0.0.1, connect, read "ok" until EOF, close) alone;
#   flood   the flood alone (bench/kernel/flood.c: FLOOD_RATE attempts/s in all over FLOOD_THREADS
#           threads, non-blocking, each attempt abandoned after FLOOD_TIMEOUT_MS, so that SYNs the
#           kernel drops do not slow the flood down): the gate's CPU the flood alone costs;
#   both    the flood and the legitimate clients together: their rate as a share of "alone";
#   control the legitimate clients beside `flood burn`: no packet, only as much CPU as the flood
#           generator itself used in this round's "both" window, on the same CPU.
# On loopback the attackers are on the same machine: the flood generator's own CPU is taken from
# the legitimate clients, the gate and the backend, which an attacker on another machine would not
# take. The control window measures what that CPU alone costs, so
#   ratio          = both / alone     what the legitimate clients keep during the flood, all in;
#   control ratio  = control / alone  what the generator's CPU alone would leave them;
#   fair ratio     = both / control   what the flood costs them beyond its generator's CPU: the
#                                     gate's work, and the kernel's work on the flood's packets
#                                     that is not charged to the generator (see docs/benchmarks.md).
# The flood generator and the burner both run pinned to CPU FLOOD_CPU (taskset), so that they
# compete for the same core in the same way; the gates, the backends and the legitimate clients
# run where the scheduler puts them.
# The gate's CPU is utime+stime (and reaped children's) from /proc/PID/stat over each window.
#
# FLOOD_NETNS=1: the flood generator (and the burner) run in a second namespace of their own,
# joined to the gates' by a veth pair, so that the flood's packets arrive on an interface as a
# remote host's do (not on lo): the gates listen on every address, the sources are 198.19.0.1,
# 198.19.0.2, ... (RFC 2544's benchmarking range, routed to the generator's namespace, local
# there) and the flood's target is 198.18.0.1. The legitimate clients stay on 127.0.0.1.
#
# Environment: SOURCES (1000) FLOOD_RATE (12000) FLOOD_THREADS (8) FLOOD_TIMEOUT_MS (200)
#   LEGIT_THREADS (4) WINDOW (6) ROUNDS (3) FLOOD_CPU (the last CPU; "none": not pinned)
#   FLOOD_NETNS (0; 1: the generator in its own namespace over a veth pair)
#   GIFTWRAP=COMMAND   the giftwrap to run, words allowed; default: the Release build of
#                      src/Giftwrap.Cli (dotnet build first), run as `dotnet giftwrap.dll`
# Every process started is stopped by pid; every load loop is bounded in time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -z "${GIFTWRAP_FLOOD_IN_NETNS:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "flood.sh: run as root (unshare -n, nft)" >&2; exit 1; }
    exec unshare --net -- env GIFTWRAP_FLOOD_IN_NETNS=1 "$0" "$@"
fi
sources=${SOURCES:-1000}
flood_rate=${FLOOD_RATE:-12000}
flood_threads=${FLOOD_THREADS:-8}
flood_timeout=${FLOOD_TIMEOUT_MS:-200}
legit_threads=${LEGIT_THREADS:-4}
window=${WINDOW:-6}
rounds=${ROUNDS:-3}
flood_cpu=${FLOOD_CPU:-$(($(nproc) - 1))}
flood_netns=${FLOOD_NETNS:-0}
pin=()
[ "$flood_cpu" = none ] || pin=(taskset -c "$flood_cpu")
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# the session's SSH client would be a protected address; it is not part of this namespace
unset SSH_CONNECTION SSH_CLIENT

ip link set lo up
work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-flood-bench.XXXXXX")
die() { printf 'flood.sh: %s\n' "$*" >&2; exit 1; }
# shared helpers: start, stop_all, wait_listening, kv, median, cpu_ticks
# shellcheck source=../lib/procs.sh
. "$here/../lib/procs.sh"
cleanup() {
    stop_all
    nft delete table inet giftwrap 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
hz=$(getconf CLK_TCK)
now() { date +%s.%N; }

echo "==== machine"
echo "nproc $(nproc) ($(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed "s/^ *//")); $(uname -sr); $(nft --version); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "flood generator: $([ "$flood_netns" = 1 ] && echo "its own namespace over a veth pair, sources from 198.19.0.1, target 198.18.0.1" || echo "on loopback, sources from 127.1.0.1, target 127.0.0.1")"
echo "sources $sources, flood $flood_rate attempts/s over $flood_threads threads (timeout $flood_timeout ms), legitimate clients $legit_threads threads, windows of $window s, $rounds rounds; flood generator and control burner on CPU ${flood_cpu}"

# ---------------------------------------------------------------- build
for p in connload responder; do gcc -O2 -Wall -pthread -I "$repo/bench/lib" -o "$work/$p" "$repo/bench/gate/$p.c"; done
gcc -O2 -Wall -pthread -I "$repo/bench/lib" -o "$work/flood" "$here/flood.c" -lm
if [ -z "${GIFTWRAP:-}" ]; then
    dotnet build "$repo/src/Giftwrap.Cli" -c Release -nologo -v quiet >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log" >&2; exit 1; }
    GIFTWRAP="dotnet $repo/src/Giftwrap.Cli/bin/Release/net10.0/giftwrap.dll"
fi
read -ra giftwrap <<<"$GIFTWRAP"

# ---------------------------------------------------------------- the generator's side
# attacker CMD...: runs CMD where the flood comes from ($target is the gates' address seen from there)
if [ "$flood_netns" = 1 ]; then
    # the generator's namespace, held by a sleep stopped by pid with the rest
    start netns unshare --net -- sleep 86400
    for _ in $(seq 1 100); do
        [ "$(readlink "/proc/${PID[netns]}/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] && [ "$(cat "/proc/${PID[netns]}/comm" 2>/dev/null)" = sleep ] && break
        sleep 0.05
    done
    [ "$(cat "/proc/${PID[netns]}/comm" 2>/dev/null)" = sleep ] || die "the generator's namespace did not come up"
    attacker_ns=(nsenter -t "${PID[netns]}" -n)
    ip link add vgate type veth peer name vflood netns "${PID[netns]}"
    ip addr add 198.18.0.1/24 dev vgate
    ip link set vgate up
    # one neighbour for all the sources: their range is routed through the generator's address
    ip route add 198.19.0.0/16 via 198.18.0.2 dev vgate
    "${attacker_ns[@]}" sh -c 'ip link set lo up && ip addr add 198.18.0.2/24 dev vflood && ip link set vflood up &&
        ip route add local 198.19.0.0/16 dev lo'
    target=198.18.0.1 listen_on=0.0.0.0 sources_from=198.19.0.1
else
    attacker_ns=()
    target=127.0.0.1 listen_on=127.0.0.1 sources_from=127.1.0.1
fi
export FLOOD_SOURCES_FROM=$sources_from
# the sources' first two bytes, as a pattern: 127\.1\. or 198\.19\.
source_re="$(sed 's/\./\\./g' <<<"${sources_from%.*.*}")\\."
attacker() { "${attacker_ns[@]}" "$@"; }
echo "giftwrap: $GIFTWRAP ($(git -C "$repo" log -1 --format='%h %s' 2>/dev/null || echo '?'))"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- gates
printf 'ALL: ALL\n' >"$work/hosts.allow"
: >"$work/hosts.deny"
declare -A FWD=([user]=20001 [kernel]=20011) TRAP=([user]=20002 [kernel]=20012) BACK=([user]=20003 [kernel]=20013)
for g in user kernel; do
    {
        printf '[tables]\nallow = %s\ndeny = %s\n\n' "$work/hosts.allow" "$work/hosts.deny"
        printf '[service:web]\nlisten = %s:%s\nforward = 127.0.0.1:%s\n\n' "$listen_on" "${FWD[$g]}" "${BACK[$g]}"
        printf '[service:trap]\nlisten = %s:%s\ntrap = 1d\ntrap_bans_per_minute = 1000000\n\n' "$listen_on" "${TRAP[$g]}"
        # one legitimate address opens every connection: the per-source limit (64) would refuse them
        printf '[limits]\nmax_connections = 20000\nmax_per_source = 20000\n\n'
        printf '[log]\nsyslog = off\n\n'
        # 127.1.x.y are the attackers here (without FLOOD_NETNS): loopback must be bannable for the run
        printf '[bans]\nstore = %s\nprotect_loopback = no\n\n' "$work/store-$g"
        [ "$g" = kernel ] && printf '[kernel]\nnftables = yes\nports = %s\n\n' "${FWD[$g]}"
    } >"$work/$g.conf"
    start "back_$g" "$work/responder" "${BACK[$g]}" reply 900
    start "gate_$g" "${giftwrap[@]}" serve --config "$work/$g.conf"
done
for g in user kernel; do
    wait_listening "${BACK[$g]}" "back_$g" 30
    wait_listening "${FWD[$g]}" "gate_$g" 30
    wait_listening "${TRAP[$g]}" "gate_$g" 30
done
echo "==== configuration of the kernel gate"
sed 's/^/  /' "$work/kernel.conf"

# ---------------------------------------------------------------- bans
for g in user kernel; do
    r=$(attacker "$work/flood" seed "$target" "${TRAP[$g]}" "$sources") || { echo "flood.sh: seeding $g: $r" >&2; exit 1; }
    echo "bans through $g's trap: $r"
done
count_bans() { "${giftwrap[@]}" bans --config "$work/$1.conf" 2>/dev/null | grep -c "$source_re" || true; }
for g in user kernel; do
    n=$(count_bans "$g")
    [ "$n" -ge "$sources" ] || { echo "flood.sh: $g's store holds $n bans from $sources_from on, not $sources" >&2; exit 1; }
done
set_count() { nft list set inet giftwrap a4 2>/dev/null | tr ',{}' '\n\n\n' | grep -c "$source_re" || true; }
for _ in $(seq 1 100); do
    [ "$(set_count)" -ge "$sources" ] && break
    sleep 0.2
done
echo "stores: $sources bans each; the kernel set a4 of table inet giftwrap: $(set_count) elements"
echo "the kernel gate's table (elements left out):"
nft -t list table inet giftwrap | sed 's/^/  /'

# a legitimate client gets through both; a banned source is refused by both
for g in user kernel; do
    r=$("$work/connload" run 127.0.0.1 "${FWD[$g]}" 20 2 10)
    [ "$(kv ok <<<"$r")" = 20 ] || { echo "flood.sh: $g does not serve 127.0.0.1: $r" >&2; exit 1; }
    r=$(attacker "$work/flood" run "$target" "${FWD[$g]}" "$sources" 200 1 "$flood_timeout" 1)
    echo "check, 200 attempts from banned sources to $g: $r"
    [ "$(kv refused <<<"$r")" = 0 ] && [ "$(kv dropped <<<"$r")" = 0 ] && { echo "flood.sh: $g let banned sources in" >&2; exit 1; }
done

# ---------------------------------------------------------------- measure
# window GATE KIND [CORES]: one window; prints "GATE KIND legit_rate=R gate_cpu_pct=C  RESULT...  FLOOD.../BURN..."
# (CORES: the control burner's share of a core)
window() {
    local g=$1 kind=$2 cores=${3:-} pid=${PID[gate_$1]} c0 c1 t0 t1 legit="" side="" spid=""
    case $kind in
    flood | both)
        attacker "${pin[@]}" "$work/flood" run "$target" "${FWD[$g]}" "$sources" "$flood_rate" "$((window + 2))" "$flood_timeout" "$flood_threads" >"$work/side.out" &
        spid=$! ;;
    control)
        attacker "${pin[@]}" "$work/flood" burn "$cores" "$((window + 2))" >"$work/side.out" &
        spid=$! ;;
    esac
    [ -n "$spid" ] && sleep 1
    c0=$(cpu_ticks "$pid")
    t0=$(now)
    if [ "$kind" = flood ]; then
        sleep "$window"
    else
        legit=$("$work/connload" run 127.0.0.1 "${FWD[$g]}" 10000000 "$legit_threads" "$window")
    fi
    c1=$(cpu_ticks "$pid")
    t1=$(now)
    [ -n "$spid" ] && { wait "$spid" || true; side=$(cat "$work/side.out"); }
    local cpu
    cpu=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) }')
    printf '%-6s %-7s legit_rate=%s gate_cpu_pct=%s  %s  %s\n' "$g" "$kind" "$(kv rate <<<" ${legit#RESULT }")" "$cpu" "${legit#RESULT }" "$side"
}
# side_cores LINE: the share of a core the flood generator (or burner) of a window's line used
side_cores() {
    local l=$1
    case $l in
    *FLOOD*) l=${l##*FLOOD } ;;
    *BURN*) l=${l##*BURN } ;;
    *) echo 0; return ;;
    esac
    awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^cpu_s=/) c = substr($i, 7); if ($i ~ /^seconds=/) s = substr($i, 9) } } END { if (s > 0) printf "%.3f", c / s; else print 0 }' <<<"$l"
}
# idle: both gates with no traffic at all, the floor under every CPU figure below
c0u=$(cpu_ticks "${PID[gate_user]}") c0k=$(cpu_ticks "${PID[gate_kernel]}") t0=$(now)
sleep "$window"
c1u=$(cpu_ticks "${PID[gate_user]}") c1k=$(cpu_ticks "${PID[gate_kernel]}") t1=$(now)
idle_pct() { awk -v a="$1" -v b="$2" -v t0="$t0" -v t1="$t1" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) }'; }
echo "idle, no traffic for $window s: gate CPU % of a core: user $(idle_pct "$c0u" "$c1u"), kernel $(idle_pct "$c0k" "$c1k")"
echo "==== rounds (load average at start: $(cut -d' ' -f1-3 /proc/loadavg))"
: >"$work/results"
for round in $(seq 1 "$rounds"); do
    order="user kernel"
    [ $((round % 2)) -eq 0 ] && order="kernel user"
    for g in $order; do
        for kind in alone flood both control; do
            cores=""
            # the control burns what the generator used beside the legitimate clients, this round, this gate
            [ "$kind" = control ] && cores=$(side_cores "$(awk -v r="$round" -v g="$g" '$1 == r && $2 == g && $3 == "both"' "$work/results")")
            line=$(window "$g" "$kind" "$cores")
            echo "round $round  $line"
            echo "$round $line" >>"$work/results"
            sleep 0.5
        done
    done
    echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done

# ---------------------------------------------------------------- summary
echo "==== summary (medians over $rounds rounds; each ratio is the median of the per-round ratios)"
# rate KIND: "ROUND RATE" per round for this gate
rates() { awk -v g="$g" -v k="$1" '$2 == g && $3 == k { sub("legit_rate=", "", $4); print $1, $4 }' "$work/results"; }
# ratio A B: the median over rounds of A's rate / B's rate
ratio() { awk 'NR == FNR { a[$1] = $2; next } ($1 in a) && $2 > 0 { printf "%.3f\n", a[$1] / $2 }' <(rates "$1") <(rates "$2") | median; }
for g in user kernel; do
    cpu() { awk -v g="$g" -v k="$1" '$2 == g && $3 == k { sub("gate_cpu_pct=", "", $5); print $5 }' "$work/results" | median; }
    field() { awk -v g="$g" -v k="$1" -v f="$2" '$2 == g && $3 == k { for (i = 1; i <= NF; i++) if (index($i, f "=") == 1) { sub(f "=", "", $i); print $i } }' "$work/results" | median; }
    side() { awk -v g="$g" -v k="$1" '$2 == g && $3 == k' "$work/results" | while read -r l; do side_cores "$l"; echo; done | median; }
    printf '%-6s legit conn/s: alone %s, during the flood %s, beside the control burner %s\n' "$g" "$(rates alone | cut -d' ' -f2 | median)" "$(rates both | cut -d' ' -f2 | median)" "$(rates control | cut -d' ' -f2 | median)"
    printf '%-6s ratio (flood / alone) %s; control ratio (burner / alone) %s; fair ratio (flood / burner) %s\n' "$g" "$(ratio both alone)" "$(ratio control alone)" "$(ratio both control)"
    printf '%-6s gate CPU %% of a core: alone %s, flood alone %s, flood+legit %s, burner+legit %s\n' "$g" "$(cpu alone)" "$(cpu flood)" "$(cpu both)" "$(cpu control)"
    printf '%-6s flood generator %s of a core beside the legitimate clients, the burner %s; flood attempts/s %s (refused %s, dropped %s, stalled %s, skipped %s per window)\n' \
        "$g" "$(side both)" "$(side control)" "$(field flood attempts_per_s)" "$(field flood refused)" "$(field flood dropped)" "$(field flood stalled)" "$(field flood skipped)"
    # the control stands for the generator only when the burner got the CPU the generator got
    awk -v a="$(side both)" -v b="$(side control)" 'BEGIN { exit !(a > 0 && (b < 0.9 * a || b > 1.1 * a)) }' &&
        echo "$g   WARNING: the burner got $(side control) of a core, not the generator's $(side both): the machine is too busy for the control; its ratios are not valid"
done
for g in user kernel; do echo "$g gate: $(wc -l <"$work/gate_$g.err") line(s) on its stderr ([log] syslog = off: the console)"; done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "goal (issue 11): with the sources in the kernel set, the legitimate rate during the flood >= 0.9 of its rate"
echo "without the flood (the fair ratio, the generator's own CPU matched by the control), and the gate under 5 % of a core"
