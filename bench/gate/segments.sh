#!/usr/bin/env bash
# What the kernel does for one short forwarded connection under `giftwrap serve` beside HAProxy
# (mode tcp, nbthread 1, the configuration of per-connection.sh and two-generators.sh), counted
# rather than timed, so that the figures hold on a busy machine: TCP segments per connection on both
# legs (client <-> proxy, proxy <-> backend), by direction and kind (segcount.c on lo), cross-checked
# with the namespace's own OutSegs; which side of each leg closes first (and is left in TIME_WAIT); the proxy's
# system calls per connection at full speed (perf stat on raw_syscalls:sys_enter; epoll_wait and the
# threads' sleeps too, which depend on the rate) and, in a run of
# their own because strace slows the proxy, per call (strace -f -c). Two loads: connload against
# responder (the backend speaks first: "ok\n", close) and wrk with `Connection: close` against a
# one-worker nginx (the client speaks first). Leaves rates and CPU time to per-connection.sh.
#
#   bench/gate/segments.sh GIFTWRAP [GIFTWRAP_BEFORE]
#
# GIFTWRAP_BEFORE: a second giftwrap (an older build) counted beside the first. HAPROXY_SMART=1 adds
# haproxy-smart: HAProxy with `option tcp-smart-accept` and `tcp-smart-connect` (delayed ACKs).
# SERVE_ONE_LOOP=1 adds serve-1loop: GIFTWRAP with DOTNET_PROCESSOR_COUNT=1 (one relay loop).
# Knobs: CONNLOAD_COUNT (2000), CONNLOAD_THREADS (8), WRK_SECONDS (1), WRK_CONNECTIONS (8),
# STRACE_COUNT (1000). Everything runs in a private network namespace of its own (`unshare -n`,
# needs root), on 127.0.0.1 there, so nothing else's segments are counted; every process started
# is stopped by its pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { printf 'segments.sh: %s\n' "$*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: segments.sh GIFTWRAP [GIFTWRAP_BEFORE]"
if [ "${GIFTWRAP_SEGMENTS_NETNS:-}" != 1 ]; then
    # the whole script again, alone on a loopback of its own
    exec unshare -n env GIFTWRAP_SEGMENTS_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
for tool in haproxy nginx wrk strace perf gcc; do command -v "$tool" >/dev/null || die "$tool is missing"; done
cl_count=${CONNLOAD_COUNT:-2000}
cl_threads=${CONNLOAD_THREADS:-8}
wrk_seconds=${WRK_SECONDS:-1}
wrk_connections=${WRK_CONNECTIONS:-8}
scount=${STRACE_COUNT:-1000}
work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-segments.XXXXXX")
# shellcheck source=../lib/procs.sh
. "$here/../lib/procs.sh"
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
for p in connload responder; do gcc -O2 -Wall -pthread -I "$here/../lib" -o "$work/$p" "$here/$p.c"; done
gcc -O2 -Wall -o "$work/segcount" "$here/segcount.c"

peers=(serve haproxy-nt1)
declare -A BIN=([serve]=$(readlink -f "$1"))
[ $# -ge 2 ] && peers+=(serve-before) && BIN[serve-before]=$(readlink -f "$2")
[ "${HAPROXY_SMART:-0}" = 1 ] && peers+=(haproxy-smart)
[ "${SERVE_ONE_LOOP:-0}" = 1 ] && peers+=(serve-1loop) && BIN[serve-1loop]=${BIN[serve]}
# per peer: the proxy's port for each load, and a backend of each kind of its own (the ports tell
# the legs apart, in segcount and in ss)
declare -A PROXY BACKEND
mkdir "$work/tables"
printf 'ALL: ALL\n' >"$work/tables/hosts.allow"
printf '# empty\n' >"$work/tables/hosts.deny"
i=0
for peer in "${peers[@]}"; do
    PROXY[$peer-connload]=$((20000 + i)) BACKEND[$peer-connload]=$((20100 + i))
    PROXY[$peer-wrk]=$((20001 + i)) BACKEND[$peer-wrk]=$((20101 + i))
    start "reply-$peer" "$work/responder" "${BACKEND[$peer-connload]}" reply 3600
    d=$work/nginx-$peer
    mkdir -p "$d/logs"
    # as in two-generators.sh: one worker, no keep-alive, no access log
    printf 'worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/logs/error.log warn;\nevents { worker_connections 8192; }\nhttp {\n    access_log off;\n    keepalive_timeout 0;\n    client_body_temp_path %s/body;\n    proxy_temp_path %s/proxy;\n    fastcgi_temp_path %s/fastcgi;\n    server {\n        listen 127.0.0.1:%s backlog=4096;\n        location / { return 200 "ok\\n"; }\n    }\n}\n' \
        "$d" "$d" "$d" "$d" "$d" "${BACKEND[$peer-wrk]}" >"$d/nginx.conf"
    start "nginx-$peer" nginx -p "$d" -e "$d/logs/error.log" -c "$d/nginx.conf"
    case $peer in
    haproxy-*)
        # haproxy-smart: the same with the kernel's delayed ACKs asked for on both legs (off by
        # default in mode tcp), to see what they would save
        smart=
        [ "$peer" = haproxy-smart ] && smart='    option tcp-smart-accept\n    option tcp-smart-connect\n'
        printf 'global\n    maxconn 4000\n    nbthread 1\n\ndefaults\n    mode tcp\n%b    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\nlisten connload\n    bind 127.0.0.1:%s\n    server s1 127.0.0.1:%s\n\nlisten wrk\n    bind 127.0.0.1:%s\n    server s1 127.0.0.1:%s\n' \
            "$smart" "${PROXY[$peer-connload]}" "${BACKEND[$peer-connload]}" "${PROXY[$peer-wrk]}" "${BACKEND[$peer-wrk]}" >"$work/$peer.cfg"
        start "$peer" haproxy -db -f "$work/$peer.cfg" ;;
    *)
        # one client address opens every connection: the per-source limit (64) would refuse them
        printf '[tables]\nallow = %s\ndeny = %s\n\n[service:connload]\nlisten = 127.0.0.1:%s\nforward = 127.0.0.1:%s\n\n[service:wrk]\nlisten = 127.0.0.1:%s\nforward = 127.0.0.1:%s\n\n[limits]\nmax_connections = 20000\nmax_per_source = 20000\n\n[log]\nsyslog = off\n' \
            "$work/tables/hosts.allow" "$work/tables/hosts.deny" "${PROXY[$peer-connload]}" "${BACKEND[$peer-connload]}" \
            "${PROXY[$peer-wrk]}" "${BACKEND[$peer-wrk]}" >"$work/$peer.conf"
        # serve-1loop: the relay makes one loop per CPU the runtime sees (up to 4)
        if [ "$peer" = serve-1loop ]; then
            start "$peer" env DOTNET_PROCESSOR_COUNT=1 "${BIN[$peer]}" serve --config "$work/$peer.conf"
        else
            start "$peer" "${BIN[$peer]}" serve --config "$work/$peer.conf"
        fi ;;
    esac
    for load in connload wrk; do
        wait_listening "${BACKEND[$peer-$load]}" "$([ $load = wrk ] && echo nginx || echo reply)-$peer"
        wait_listening "${PROXY[$peer-$load]}" "$peer"
    done
    i=$((i + 2))
done

# load PEER LOAD [CONNLOAD_COUNT]: one run of the load through the peer
load() {
    local port=${PROXY[$1-$2]}
    if [ "$2" = connload ]; then
        "$work/connload" run 127.0.0.1 "$port" "${3:-$cl_count}" "$cl_threads" 60 >/dev/null
    else
        wrk -t1 -c"$wrk_connections" -d"${wrk_seconds}s" -H 'Connection: close' "http://127.0.0.1:$port/" >/dev/null
    fi
}
# capture NAME PEER LOAD: segcount started on the peer's ports for the load, back once it captures
capture() {
    start "$1" "$work/segcount" "${PROXY[$2-$3]}" "${BACKEND[$2-$3]}"
    for _ in $(seq 1 50); do
        grep -qs ready "$work/$1.err" && return 0
        sleep 0.1
    done
    cat "$work/$1.err" >&2
    die "segcount did not start"
}
# sleeps PID: the voluntary context switches of PID's threads so far (each a wait that blocked; the
# preemptions, which a busy machine multiplies, left out)
sleeps() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '$1 == "voluntary_ctxt_switches:" { s += $2 } END { print s + 0 }'; }
# snmp GROUP FIELD: a counter of the namespace's /proc/net/snmp or /proc/net/netstat
snmp() {
    awk -v g="$1:" -v f="$2" '$1 == g { if (!(g in h)) { for (i = 2; i <= NF; i++) h[g, $i] = i; h[g] = 1 } else print $h[g, f] }' /proc/net/snmp /proc/net/netstat
}

echo "segments per connection (load-independent counts: segcount on lo of a private network namespace)"
echo "dir: c>p client to proxy, p>c proxy to client, p>b proxy to backend, b>p backend to proxy; first_fin: that side closed first (it is left in TIME_WAIT)"
echo "connload: $cl_count connections, $cl_threads threads, against responder (\"ok\\n\", close); wrk: -t1 -c$wrk_connections -d${wrk_seconds}s 'Connection: close' against nginx"
printf '%-13s %-8s %-4s %6s %5s %5s %7s %5s %5s %5s %6s %9s\n' peer load dir total syn data datafin fin rst ack dupack first_fin
declare -A SUMMARY
for load in connload wrk; do
    for peer in "${peers[@]}"; do
        # a warm-up (the JIT, the first connections' allocations), not counted
        load "$peer" "$load" 200
        capture "seg-$peer-$load" "$peer" "$load"
        out0=$(snmp Tcp OutSegs)
        v0=$(sleeps "${PID[$peer]}")
        perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait -o "$work/perf-$peer-$load" -p "${PID[$peer]}" &
        ps=$!
        sleep 0.3
        load "$peer" "$load"
        # the last FINs and ACKs
        sleep 0.5
        kill -INT "$ps"
        wait "$ps" || true
        v1=$(sleeps "${PID[$peer]}")
        out1=$(snmp Tcp OutSegs)
        kill -INT "${PID[seg-$peer-$load]}"
        wait "${PID[seg-$peer-$load]}" || true
        unset "PID[seg-$peer-$load]"
        res=$work/seg-$peer-$load.out
        awk -v peer="$peer" -v load="$load" '$1 == "SEG" {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "%-13s %-8s %-4s %6.2f %5.2f %5.2f %7.2f %5.2f %5.2f %5.2f %6.2f %9.2f\n", peer, load, v["dir"], v["total"], v["syn"], v["data"], v["datafin"], v["fin"], v["rst"], v["ack"], v["dupack"], v["first_fin"] }' "$res"
        n=$(awk '$1 == "SEG" && $2 == "dir=c>p" { sub("conns=", "", $3); print $3 }' "$res")
        drops=$(awk '$1 == "DROPS" { sub("n=", "", $2); print $2 }' "$res")
        [ "$drops" = 0 ] || echo "  (segcount missed $drops segments: the counts above are short)"
        [ "$n" -gt 0 ] || die "no connection counted for $peer under $load"
        # system calls, epoll_wait, sleeps
        sys=$(awk -F, -v v=$((v1 - v0)) '$3 == "raw_syscalls:sys_enter" { s = $1 } $3 ~ /epoll_wait$/ { e = $1 }
            END { print s + 0, e + 0, v }' "$work/perf-$peer-$load")
        SUMMARY[$peer-$load]=$(awk -v n="$n" -v seg="$(awk '$1 == "SEG" { split($3, c, "="); split($4, t, "="); s += c[2] * t[2] } END { print s }' "$res")" \
            -v out=$((out1 - out0)) -v sys="$sys" 'BEGIN { split(sys, c, " "); printf "%6d %7.2f %7.2f %8.2f %10.2f %6.2f", n, seg / n, out / n, c[1] / n, c[2] / n, c[3] / n }')
    done
done
echo
echo "per connection: all segments (segcount; the namespace's OutSegs); the proxy's system calls and epoll_wait calls at full speed"
echo "(perf stat) and its threads' sleeps (voluntary context switches); the last two depend on the rate: more connections per wake-up when busier"
printf '%-13s %-8s %6s %7s %7s %8s %10s %6s\n' peer load conns segs OutSegs syscalls epoll_wait sleeps
for load in connload wrk; do
    for peer in "${peers[@]}"; do
        printf '%-13s %-8s %s\n' "$peer" "$load" "${SUMMARY[$peer-$load]}"
    done
done

echo
echo "system calls per connection, per call (strace -f -c; connload $scount connections, wrk ${wrk_seconds}s; calls under 0.01 left out)"
for load in connload wrk; do
    for peer in "${peers[@]}"; do
        capture "seg-$peer-$load-s" "$peer" "$load"
        strace -f -c -o "$work/strace-$peer-$load" -p "${PID[$peer]}" 2>/dev/null &
        st=$!
        sleep 1
        load "$peer" "$load" "$scount"
        sleep 0.5
        kill -INT "$st"
        wait "$st" || true
        kill -INT "${PID[seg-$peer-$load-s]}"
        wait "${PID[seg-$peer-$load-s]}" || true
        unset "PID[seg-$peer-$load-s]"
        n=$(awk '$1 == "SEG" && $2 == "dir=c>p" { sub("conns=", "", $3); print $3 }' "$work/seg-$peer-$load-s.out")
        awk -v n="$n" -v peer="$peer" -v load="$load" '
            $NF == "total" { printf "%-13s %-8s %6.2f in all:", peer, load, $4 / n }
            NR > 2 && $1 !~ /^-/ && $NF != "total" { c[$NF] = $4 / n }
            END { for (k in c) if (c[k] >= 0.01) printf " %s %.2f", k, c[k]; printf "\n" }' "$work/strace-$peer-$load"
    done
done
