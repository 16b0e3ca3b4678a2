#!/usr/bin/env bash
# What one short forwarded connection (connect, a 6-byte reply, close) costs `giftwrap serve`
# beside HAProxy (mode tcp, nbthread 1), in measures that do not rest on a quiet machine:
# system calls per connection (strace -f -c over STRACE_COUNT connections, per call; then at full
# speed, a few of them, from the kernel's syscall tracepoints with perf stat), then the
# proxy's CPU time per connection (utime+stime of /proc/PID/stat over CONNLOAD_COUNT connections,
# 8 connload threads), ROUNDS rounds with the peers rotated, median per peer. Leaves connection
# rates to two-generators.sh and run.sh (they need a quiet machine).
#
#   bench/gate/per-connection.sh GIFTWRAP [GIFTWRAP_BEFORE]
#
# GIFTWRAP_BEFORE: a second giftwrap (an older build) measured beside the first, same rounds.
# Knobs: ROUNDS (5), CONNLOAD_COUNT (20000), STRACE_COUNT (5000), PER_CONN_PORT_BASE (27500; +0..+7).
# All on 127.0.0.1; every process started is stopped by its pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rounds=${ROUNDS:-5}
count=${CONNLOAD_COUNT:-20000}
scount=${STRACE_COUNT:-5000}
base=${PER_CONN_PORT_BASE:-27500}
die() { printf 'per-connection.sh: %s\n' "$*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: per-connection.sh GIFTWRAP [GIFTWRAP_BEFORE]"
for tool in haproxy strace gcc; do command -v "$tool" >/dev/null || die "$tool is missing"; done
work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-per-conn.XXXXXX")
# shellcheck source=../lib/procs.sh
. "$here/../lib/procs.sh"
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
hz=$(getconf CLK_TCK)
for p in connload responder; do gcc -O2 -Wall -pthread -I "$here/../lib" -o "$work/$p" "$here/$p.c"; done

peers=(serve haproxy-nt1)
declare -A BIN=([serve]=$(readlink -f "$1"))
[ $# -ge 2 ] && peers+=(serve-before) && BIN[serve-before]=$(readlink -f "$2")
declare -A PORT
# The tables in a directory of their own: the gate watches their directory (inotify), and the
# console output and strace's file written beside them would be changes it must look at.
mkdir "$work/tables"
printf 'ALL: ALL\n' >"$work/tables/hosts.allow"
printf '# empty\n' >"$work/tables/hosts.deny"
i=0
for peer in "${peers[@]}"; do
    PORT[$peer]=$((base + i))
    start "reply-$peer" "$work/responder" $((base + i + 1)) reply 3600
    case $peer in
    haproxy-nt1)
        printf 'global\n    maxconn 4000\n    nbthread 1\n\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\nlisten connload\n    bind 127.0.0.1:%s\n    server s1 127.0.0.1:%s\n' \
            $((base + i)) $((base + i + 1)) >"$work/$peer.cfg"
        start "$peer" haproxy -db -f "$work/$peer.cfg" ;;
    *)
        # one client address opens every connection: the per-source limit (64) would refuse them
        printf '[tables]\nallow = %s\ndeny = %s\n\n[service:connload]\nlisten = 127.0.0.1:%s\nforward = 127.0.0.1:%s\n\n[limits]\nmax_connections = 20000\nmax_per_source = 20000\n\n[log]\nsyslog = off\n' \
            "$work/tables/hosts.allow" "$work/tables/hosts.deny" $((base + i)) $((base + i + 1)) >"$work/$peer.conf"
        start "$peer" "${BIN[$peer]}" serve --config "$work/$peer.conf" ;;
    esac
    wait_listening $((base + i + 1)) "reply-$peer"
    wait_listening $((base + i)) "$peer"
    i=$((i + 2))
done

echo "system calls per connection (strace -f -c, $scount connections, 8 threads)"
for peer in "${peers[@]}"; do
    "$work/connload" run 127.0.0.1 "${PORT[$peer]}" 2000 8 15 >/dev/null
    strace -f -c -o "$work/strace-$peer" -p "${PID[$peer]}" 2>/dev/null &
    st=$!
    sleep 1
    ok=$("$work/connload" run 127.0.0.1 "${PORT[$peer]}" "$scount" 8 60 | kv ok)
    sleep 0.5
    kill -INT "$st"
    wait "$st" || true
    awk -v n="$ok" -v peer="$peer" '
        $NF == "total" { printf "%-13s %6.2f in all:", peer, $4 / n }
        NR > 2 && $1 !~ /^-/ && $NF != "total" { c[$NF] = $4 / n }
        END { for (k in c) if (c[k] >= 0.01) printf " %s %.2f", k, c[k]; printf "\n" }' "$work/strace-$peer"
done

# strace stops the proxy at every call, which slows it several times over: the calls whose number depends on
# the rate (epoll_wait, the EAGAIN that ends an accept batch, one check per batch, the console's
# batched writes) come out lower than at full speed. The kernel's syscall tracepoints count them
# at full speed, where perf can read them.
events=raw_syscalls:sys_enter,syscalls:sys_enter_accept4,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_ioctl,syscalls:sys_enter_write,syscalls:sys_enter_futex,syscalls:sys_enter_setsockopt
if command -v perf >/dev/null && perf stat -e "$events" -o /dev/null -- true 2>/dev/null; then
    echo "system calls per connection at full speed (perf stat, syscall tracepoints; $count connections, 8 threads)"
    for peer in "${peers[@]}"; do
        "$work/connload" run 127.0.0.1 "${PORT[$peer]}" 2000 8 15 >/dev/null
        perf stat -x, -e "$events" -o "$work/perf-$peer" -p "${PID[$peer]}" &
        ps=$!
        sleep 0.5
        out=$("$work/connload" run 127.0.0.1 "${PORT[$peer]}" "$count" 8 30)
        kill -INT "$ps"
        wait "$ps" || true
        awk -F, -v n="$(kv ok <<<"$out")" -v peer="$peer" -v rate="$(kv rate <<<"$out" | cut -d. -f1)" '
            $3 == "raw_syscalls:sys_enter" { total = $1 / n }
            $3 ~ /^syscalls:sys_enter_/ { k = $3; sub(/^syscalls:sys_enter_/, "", k); c[k] = $1 / n }
            END { printf "%-13s %6.2f in all:", peer, total; for (k in c) printf " %s %.2f", k, c[k]; printf "  (%s conn/s)\n", rate }' "$work/perf-$peer"
    done
fi

echo "CPU per connection (µs; /proc/PID/stat over $count connections, 8 threads; $rounds rounds, peers rotated)"
declare -A CPU RATE
for r in $(seq 1 "$rounds"); do
    for peer in $(rotated "$r" "${peers[@]}"); do
        "$work/connload" run 127.0.0.1 "${PORT[$peer]}" 2000 8 15 >/dev/null
        t0=$(cpu_ticks "${PID[$peer]}")
        out=$("$work/connload" run 127.0.0.1 "${PORT[$peer]}" "$count" 8 30)
        t1=$(cpu_ticks "${PID[$peer]}")
        CPU[$peer]+=" $(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$(kv ok <<<"$out")" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
        RATE[$peer]+=" $(kv rate <<<"$out" | cut -d. -f1)"
    done
done
for peer in "${peers[@]}"; do
    printf '%-13s median %s  rounds:%s  conn/s:%s\n' "$peer" "$(tr ' ' '\n' <<<"${CPU[$peer]}" | grep . | median)" "${CPU[$peer]}" "${RATE[$peer]}"
done
