#!/usr/bin/env bash
# Connection rate of `giftwrap serve` (forward) against HAProxy, measured by two independent load
# generators in one run: wrk (HTTP, `Connection: close`, against a one-worker nginx) and the
# project's connload (connect, read until EOF, close, against bench/gate/responder.c).
# Leaves bulk throughput, tcpd and memory with 1,000 idle connections to bench/gate/run.sh.
#
#   bench/gate/two-generators.sh          about 2 minutes with the defaults, plus the publish
#
# Peers, each with backends of its own (an nginx and a responder per peer, so that no peer meets
# the TIME_WAIT sockets another left at a shared backend):
#   direct       the generator straight at the backend (the ceiling)
#   serve        `giftwrap serve`, one forward service per backend, tables ALL: ALL
#   haproxy-nt1  HAProxy mode tcp, nbthread 1
#   haproxy      HAProxy mode tcp, default nbthread (one per CPU)
# Every round runs each peer once per generator, the peers rotated and every other round
# reversed; the ratios serve/haproxy are taken within a round, then their median is printed.
# The proxy's CPU (utime+stime of /proc/PID/stat, all threads) over each window gives its CPU
# time per connection.
#
# Knobs: GIFTWRAP_BIN (skip the publish; otherwise src/Giftwrap.Cli is published from HEAD with
# `git archive`, or the working tree with GATE_BENCH_SOURCE=worktree), ROUNDS (5),
# WRK_SECONDS (3), WRK_THREADS (2), WRK_CONNECTIONS (16), CONNLOAD_COUNT (40000),
# CONNLOAD_THREADS (8), CONNLOAD_MAX_SECONDS (15), TWO_GEN_PORT_BASE (27200; ports +0..+11).
# All on 127.0.0.1; every process started is stopped by its pid; every load is bounded in time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rounds=${ROUNDS:-5}
wrk_seconds=${WRK_SECONDS:-3}
wrk_threads=${WRK_THREADS:-2}
wrk_connections=${WRK_CONNECTIONS:-16}
cl_count=${CONNLOAD_COUNT:-40000}
cl_threads=${CONNLOAD_THREADS:-8}
cl_max=${CONNLOAD_MAX_SECONDS:-15}
base=${TWO_GEN_PORT_BASE:-27200}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

note() { printf '%s\n' "$*"; }
die() { printf 'two-generators.sh: %s\n' "$*" >&2; exit 1; }
for tool in wrk nginx haproxy gcc; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: wrk nginx-light haproxy gcc)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-two-gen.XXXXXX")
# shared helpers: start, stop_all, listening, wait_listening, median, cpu_ticks, rotated, rss_kib
# shellcheck source=../lib/procs.sh
. "$here/../lib/procs.sh"
cleanup() {
    stop_all
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
hz=$(getconf CLK_TCK)

# ---------------------------------------------------------------- ports and peers
peers=(direct serve haproxy-nt1 haproxy)
declare -A P_NGINX P_REPLY P_WRK P_CL
i=0
for peer in "${peers[@]}"; do
    P_NGINX[$peer]=$((base + i)) P_REPLY[$peer]=$((base + i + 1))
    i=$((i + 2))
done
for peer in serve haproxy-nt1 haproxy; do
    P_WRK[$peer]=$((base + i)) P_CL[$peer]=$((base + i + 1))
    i=$((i + 2))
done
P_WRK[direct]=${P_NGINX[direct]} P_CL[direct]=${P_REPLY[direct]}
for p in $(seq "$base" $((base + i - 1))); do
    listening "$p" && die "port $p is in use; set TWO_GEN_PORT_BASE"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- build
bin=$work/bin
mkdir -p "$bin"
for p in connload responder; do gcc -O2 -Wall -pthread -I "$here/../lib" -o "$bin/$p" "$here/$p.c"; done
if [ -n "${GIFTWRAP_BIN:-}" ]; then
    gw=$(readlink -f "$GIFTWRAP_BIN")
else
    mkdir -p "$work/src"
    if [ "${GATE_BENCH_SOURCE:-head}" = worktree ]; then
        (cd "$repo" && tar --exclude=bin --exclude=obj -cf - Directory.Build.props global.json .editorconfig src) | tar -xf - -C "$work/src"
    else
        git -C "$repo" archive HEAD Directory.Build.props global.json .editorconfig src | tar -xf - -C "$work/src"
    fi
    (cd "$work/src" && dotnet publish src/Giftwrap.Cli -c Release -r linux-x64 -o "$work/giftwrap" --nologo -v quiet >"$work/publish.log" 2>&1) ||
        { tail -n 30 "$work/publish.log" >&2; die "dotnet publish failed"; }
    gw=$work/giftwrap/giftwrap
fi

# ---------------------------------------------------------------- configuration and start
# the tables in a directory of their own: serve watches it (inotify), and its console output in
# $work would be a change to look at every 10 ms
mkdir -p "$work/tables"
printf 'ALL: ALL\n' >"$work/tables/hosts.allow"
printf '# empty\n' >"$work/tables/hosts.deny"
{
    printf '[tables]\nallow = %s\ndeny = %s\n\n' "$work/tables/hosts.allow" "$work/tables/hosts.deny"
    printf '[service:wrk]\nlisten = 127.0.0.1:%s\nforward = 127.0.0.1:%s\n\n' "${P_WRK[serve]}" "${P_NGINX[serve]}"
    printf '[service:connload]\nlisten = 127.0.0.1:%s\nforward = 127.0.0.1:%s\n\n' "${P_CL[serve]}" "${P_REPLY[serve]}"
    # one client address opens every connection: the per-source limit (64) would refuse them
    printf '[limits]\nmax_connections = 20000\nmax_per_source = 20000\n\n[log]\nsyslog = off\n'
} >"$work/serve.conf"
hap_conf() { # hap_conf FILE PEER NBTHREAD
    {
        printf 'global\n    maxconn 4000\n'
        [ -n "$3" ] && printf '    nbthread %s\n' "$3"
        printf '\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\n'
        printf 'listen wrk\n    bind 127.0.0.1:%s\n    server s1 127.0.0.1:%s\n\n' "${P_WRK[$2]}" "${P_NGINX[$2]}"
        printf 'listen connload\n    bind 127.0.0.1:%s\n    server s1 127.0.0.1:%s\n' "${P_CL[$2]}" "${P_REPLY[$2]}"
    } >"$1"
    haproxy -c -q -f "$1" || die "haproxy rejects $1"
}
hap_conf "$work/haproxy-nt1.cfg" haproxy-nt1 1
hap_conf "$work/haproxy.cfg" haproxy ""
for peer in "${peers[@]}"; do
    d=$work/nginx-$peer
    mkdir -p "$d/logs"
    # one worker, no keep-alive, no access log: every request is one connection that nginx closes
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_timeout 0;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    server {
        listen 127.0.0.1:${P_NGINX[$peer]} backlog=4096;
        location / { return 200 "ok\n"; }
    }
}
EOF
    start "nginx-$peer" nginx -p "$d" -e "$d/logs/error.log" -c "$d/nginx.conf"
    start "reply-$peer" "$bin/responder" "${P_REPLY[$peer]}" reply 3600
    wait_listening "${P_NGINX[$peer]}" "nginx-$peer"
    wait_listening "${P_REPLY[$peer]}" "reply-$peer"
done
start serve "$gw" serve --config "$work/serve.conf"
start haproxy-nt1 haproxy -db -f "$work/haproxy-nt1.cfg"
start haproxy haproxy -db -f "$work/haproxy.cfg"
for peer in serve haproxy-nt1 haproxy; do
    wait_listening "${P_WRK[$peer]}" "$peer"
    wait_listening "${P_CL[$peer]}" "$peer"
done
serve_rss_start=$(rss_kib "${PID[serve]}")

note "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
note "tools: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3), $(haproxy -v | head -n1 | cut -d' ' -f1-3), giftwrap $gw"
note "load: wrk -t$wrk_threads -c$wrk_connections -d${wrk_seconds}s -H 'Connection: close'; connload $cl_count connections, $cl_threads threads; $rounds rounds"
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- rounds
# us VALUE-WITH-UNIT: wrk's latency (12.5us, 1.2ms, 1.01s) in microseconds
us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) f = 1; else if (v ~ /ms$/) f = 1000; else if (v ~ /s$/) f = 1000000; else f = 1; printf "%.0f", n * f }'; }
raw=$work/raw.txt
: >"$raw"
measure() { # measure ROUND GENERATOR PEER: one window; appends a line to $raw and prints it
    local round=$1 gen=$2 peer=$3 pid="" c0=0 c1 out rate p50 p99 n errors cpu
    [ "$peer" != direct ] && pid=${PID[$peer]} && c0=$(cpu_ticks "$pid")
    if [ "$gen" = wrk ]; then
        out=$(timeout $((wrk_seconds + 30)) wrk -t"$wrk_threads" -c"$wrk_connections" -d"${wrk_seconds}s" --latency \
            -H 'Connection: close' "http://127.0.0.1:${P_WRK[$peer]}/" 2>&1) || true
        rate=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
        n=$(awk '/requests in/ { print $1 }' <<<"$out")
        p50=$(us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
        p99=$(us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
        errors=$(awk '/Socket errors:/ { gsub(",", ""); s = $4 + $6 + $8 + $10 } /Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
    else
        out=$(timeout $((cl_max + 30)) "$bin/connload" run 127.0.0.1 "${P_CL[$peer]}" "$cl_count" "$cl_threads" "$cl_max" 2>&1) || true
        rate=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$out")
        n=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$out")
        p50=$(sed -n 's/.* p50_us=\([0-9]*\).*/\1/p' <<<"$out")
        p99=$(sed -n 's/.* p99_us=\([0-9]*\).*/\1/p' <<<"$out")
        errors=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^err_/) { split($i, kv, "="); s += kv[2] } } END { print s + 0 }' <<<"$out")
    fi
    [ -n "$rate" ] && [ -n "$n" ] || die "$gen against $peer gave no result: $out"
    cpu=-
    if [ -n "$pid" ]; then
        c1=$(cpu_ticks "$pid")
        cpu=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }')
    fi
    printf 'round %s %-8s %-12s conns=%s rate=%s p50_us=%s p99_us=%s errors=%s cpu_us_per_conn=%s\n' \
        "$round" "$gen" "$peer" "$n" "$rate" "$p50" "$p99" "$errors" "$cpu" | tee -a "$raw"
}
for round in $(seq 1 "$rounds"); do
    for gen in wrk connload; do
        # the generators alternate which goes first, too
        [ $((round % 2)) -eq 0 ] && gen=$([ "$gen" = wrk ] && echo connload || echo wrk)
        for peer in $(rotated "$round" "${peers[@]}"); do
            measure "$round" "$gen" "$peer"
        done
    done
done
serve_rss_end=$(rss_kib "${PID[serve]}")

# ---------------------------------------------------------------- summary
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
printf '\n| generator | peer | conn/s (median) | rounds | p50 / p99 µs (median) | proxy CPU µs per connection (median) | errors |\n'
printf '|---|---|---:|---|---:|---:|---:|\n'
for gen in wrk connload; do
    for peer in "${peers[@]}"; do
        lines=$(grep -E "^round [0-9]+ $gen +$peer " "$raw")
        printf '| %s | %s | **%s** | %s | %s / %s | %s | %s |\n' "$gen" "$peer" \
            "$(field rate <<<"$lines" | median)" "$(field rate <<<"$lines" | paste -sd, | sed 's/,/, /g')" \
            "$(field p50_us <<<"$lines" | median)" "$(field p99_us <<<"$lines" | median)" \
            "$( [ "$peer" = direct ] && echo - || field cpu_us_per_conn <<<"$lines" | median)" \
            "$(field errors <<<"$lines" | awk '{ s += $1 } END { print s + 0 }')"
    done
done
printf '\n| generator | ratio | median of the per-round ratios | rounds |\n|---|---|---:|---|\n'
for gen in wrk connload; do
    for hap in haproxy haproxy-nt1; do
        for what in rate cpu_us_per_conn; do
            ratios=$(for round in $(seq 1 "$rounds"); do
                s=$(grep -E "^round $round $gen +serve " "$raw" | field "$what")
                h=$(grep -E "^round $round $gen +$hap " "$raw" | field "$what")
                awk -v s="$s" -v h="$h" 'BEGIN { if (h > 0) printf "%.2f\n", s / h }'
            done)
            label=$([ "$what" = rate ] && echo "conn/s serve / $hap" || echo "CPU per connection serve / $hap")
            printf '| %s | %s | **%s** | %s |\n' "$gen" "$label" "$(median <<<"$ratios")" "$(paste -sd, <<<"$ratios" | sed 's/,/, /g')"
        done
    done
done
note ""
note "serve RSS: $serve_rss_start KiB at start, $serve_rss_end KiB after the rounds"
note "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
