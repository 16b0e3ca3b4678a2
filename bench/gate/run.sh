#!/usr/bin/env bash
# The gate benchmark: `giftwrap serve` and `giftwrap tcpd` side by side with their peers,
# all in one run, on loopback only (docs/benchmarks.md, "The gate").
#
#   bench/gate/run.sh            everything, about 5-6 minutes on 2 cores (1 of them publishing)
#
# Measures, in this order:
#   1. bulk throughput, iperf3 client -> proxy -> iperf3 server: direct, `giftwrap serve`
#      (forward), socat (default and -b 131072), HAProxy mode tcp (plain and with
#      splice-request/splice-response);
#   2. connections per second (bench/gate/connload.c: THREADS blocking clients, connect,
#      read the reply until EOF, close) against a tiny C backend that writes "ok\n" and
#      closes: direct, `serve`, HAProxy, xinetd `redirect`; and through xinetd: /bin/echo
#      bare, libwrap's tcpd -> /bin/echo, `giftwrap-tcpd` (the lean drop-in binary) and
#      `giftwrap tcpd` (the same mode inside the full CLI) -> /bin/echo;
#   3. start-to-exit time of `tcpd /bin/true` vs `giftwrap-tcpd /bin/true` (and `giftwrap tcpd`) with a real
#      accepted TCP socket on fds 0-2 (bench/gate/execbench.c); floors: bare /bin/true, an
#      empty NativeAOT program (bench/gate/aot-empty) and `giftwrap --version`;
#   4. memory (VmRSS) of `serve` and HAProxy before and with IDLE_CONNECTIONS idle
#      connections held open through them, and after those close.
# Ends with a Markdown summary (the tables of docs/benchmarks.md) and the goals, met or not.
#
# giftwrap is published natively (NativeAOT) from the committed HEAD (git archive), so the
# run is reproducible while others edit the working tree. Environment knobs:
#   GIFTWRAP_BIN=path        use this giftwrap binary, skip the publish
#   GIFTWRAP_TCPD_BIN=path   use this giftwrap-tcpd binary (default: published beside giftwrap)
#   GATE_BENCH_SOURCE=worktree  publish the working tree (src/) instead of HEAD
#   GATE_BENCH_PORT_BASE     first of the loopback ports used (default 27100; ports +0..+22)
#   BULK_SECONDS (3) BULK_ROUNDS (5) RATE_ROUNDS (5) RATE_THREADS (8)
#   RATE_FAST_COUNT (40000) RATE_FORK_COUNT (2000) RATE_MAX_SECONDS (15)
#   EXEC_COUNT (300) IDLE_CONNECTIONS (1000)
# Every load loop is bounded in count and in time; every process started is stopped by pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

bulk_seconds=${BULK_SECONDS:-3}
bulk_rounds=${BULK_ROUNDS:-5}
rate_rounds=${RATE_ROUNDS:-5}
rate_threads=${RATE_THREADS:-8}
rate_fast=${RATE_FAST_COUNT:-40000}
rate_fork=${RATE_FORK_COUNT:-2000}
rate_max=${RATE_MAX_SECONDS:-15}
exec_count=${EXEC_COUNT:-300}
idle=${IDLE_CONNECTIONS:-1000}
base=${GATE_BENCH_PORT_BASE:-27100}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

section() { printf '\n==== %s ====\n' "$*"; }
note() { printf '%s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

# ---------------------------------------------------------------- packages
packages=(haproxy socat xinetd iperf3 tcpd clang lld zlib1g-dev gcc jq)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    note "installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi

# ---------------------------------------------------------------- processes
work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-gate-bench.XXXXXX")
# shared helpers: start, stop, stop_all, listening, wait_listening, kv, median, cpu_ticks, rotated, rss_kib
# shellcheck source=../lib/procs.sh
. "$here/../lib/procs.sh"
cleanup() {
    stop_all
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
# busy_percent SECONDS: how busy all CPUs were over SECONDS (from /proc/stat)
busy_percent() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]; printf "%.0f", 100 * busy / (busy + idle) }'
}

# ---------------------------------------------------------------- ports
p_iperf=$base p_serve_bulk=$((base + 1)) p_socat=$((base + 2)) p_socat_b=$((base + 3))
p_hap_bulk=$((base + 4)) p_hap_splice=$((base + 5))
# a responder of its own behind each proxy: the TIME_WAIT sockets one peer leaves at its backend
# do not meet the next peer's connects
p_reply_serve=$((base + 6)) p_reply_hap=$((base + 7)) p_reply_x=$((base + 8))
p_reply=$((base + 10)) p_serve_rate=$((base + 11)) p_hap_rate=$((base + 12)) p_x_redirect=$((base + 13))
p_x_echo=$((base + 14)) p_x_tcpd=$((base + 15)) p_x_gw=$((base + 16)) p_x_lean=$((base + 17))
p_hold=$((base + 20)) p_serve_mem=$((base + 21)) p_hap_mem=$((base + 22))
for p in $(seq "$base" $((base + 22))); do
    listening "$p" && die "port $p is in use; set GATE_BENCH_PORT_BASE"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- machine
section "machine"
note "nproc: $(nproc)"
note "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
note "kernel: $(uname -sr)"
note "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
note "dotnet: $(dotnet --version 2>/dev/null || echo none)"
note "haproxy: $(haproxy -v | head -n1)"
note "socat: $(socat -V 2>/dev/null | grep -m1 'socat version' || echo unknown)"
note "xinetd: $(dpkg-query -W -f='${Version}' xinetd)  tcpd: $(dpkg-query -W -f='${Version}' tcpd)  iperf3: $(iperf3 --version | head -n1)"
note "gcc: $(gcc --version | head -n1)"
note "ulimit -n: $(ulimit -n)"
note "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min); CPUs busy before start: $(busy_percent 3)% of all cores over 3 s (other users)"

# ---------------------------------------------------------------- build
section "build"
bin=$work/bin
mkdir -p "$bin"
for p in connload responder execbench; do
    gcc -O2 -Wall -pthread -I "$here/../lib" -o "$bin/$p" "$here/$p.c"
done
note "built connload, responder, execbench (gcc -O2)"
if [ -n "${GIFTWRAP_BIN:-}" ]; then
    gw=$(readlink -f "$GIFTWRAP_BIN")
    note "giftwrap: $gw (GIFTWRAP_BIN, not published by this run)"
    gwt=$(readlink -f "${GIFTWRAP_TCPD_BIN:?GIFTWRAP_TCPD_BIN must name giftwrap-tcpd when GIFTWRAP_BIN is set}")
else
    src=$work/src
    mkdir -p "$src"
    if [ "${GATE_BENCH_SOURCE:-head}" = worktree ]; then
        (cd "$repo" && tar --exclude=bin --exclude=obj -cf - Directory.Build.props global.json src) | tar -xf - -C "$src"
        note "giftwrap source: working tree of $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?')"
    else
        git -C "$repo" archive HEAD Directory.Build.props global.json src | tar -xf - -C "$src"
        note "giftwrap source: HEAD $(git -C "$repo" log -1 --format='%h %s' 2>/dev/null)"
    fi
    t0=$(date +%s)
    (cd "$src" && dotnet publish src/Giftwrap.Cli -c Release -r linux-x64 -o "$work/giftwrap" --nologo -v quiet >"$work/publish.log" 2>&1) || {
        tail -n 30 "$work/publish.log" >&2
        die "dotnet publish failed"
    }
    gw=$work/giftwrap/giftwrap
    note "published giftwrap natively (PublishAot) in $(($(date +%s) - t0)) s: $(stat -c %s "$gw") bytes"
    (cd "$src" && dotnet publish src/Giftwrap.Tcpd -c Release -r linux-x64 -o "$work/giftwrap-tcpd" --nologo -v quiet >"$work/publish-tcpd.log" 2>&1) || {
        tail -n 30 "$work/publish-tcpd.log" >&2
        die "dotnet publish of src/Giftwrap.Tcpd failed"
    }
    gwt=$work/giftwrap-tcpd/giftwrap-tcpd
    note "published giftwrap-tcpd natively (PublishAot): $(stat -c %s "$gwt") bytes"
fi
file -b "$gw" 2>/dev/null | cut -c1-80 || true
# the NativeAOT floor (an empty Main), published outside the repo so Directory.Build.props stays out of it
mkdir -p "$work/aot-empty-src"
cp "$here/aot-empty/aot-empty.csproj" "$here/aot-empty/Program.cs" "$work/aot-empty-src/"
(cd "$work/aot-empty-src" && dotnet publish -c Release -r linux-x64 -o "$work/aot-empty" --nologo -v quiet >"$work/aot-empty.log" 2>&1) || {
    tail -n 20 "$work/aot-empty.log" >&2
    die "dotnet publish of bench/gate/aot-empty failed"
}
aot_empty=$work/aot-empty/aot-empty
note "published bench/gate/aot-empty (NativeAOT, empty Main): $(stat -c %s "$aot_empty") bytes"

# ---------------------------------------------------------------- configuration
# the tables in a directory of their own: serve watches it (inotify), and its console output in
# $work would be a change to look at every 10 ms
mkdir -p "$work/tables"
printf 'ALL: ALL\n' >"$work/tables/hosts.allow"
printf '# empty\n' >"$work/tables/hosts.deny"
serve_conf() { # serve_conf FILE NAME:LISTEN:FORWARD...
    local file=$1 spec name listen fwd
    shift
    {
        printf '[tables]\nallow = %s\ndeny = %s\n\n' "$work/tables/hosts.allow" "$work/tables/hosts.deny"
        for spec in "$@"; do
            IFS=: read -r name listen fwd <<<"$spec"
            printf '[service:%s]\nlisten = 127.0.0.1:%s\nforward = 127.0.0.1:%s\n\n' "$name" "$listen" "$fwd"
        done
        # one client address opens every connection here: the per-source limit (64) would refuse them
        printf '[limits]\nmax_connections = 20000\nmax_per_source = 20000\n\n[log]\nsyslog = off\n'
    } >"$file"
}
serve_conf "$work/serve.conf" "bulk:$p_serve_bulk:$p_iperf" "rate:$p_serve_rate:$p_reply_serve"
serve_conf "$work/serve-mem.conf" "idle:$p_serve_mem:$p_hold"

hap_conf() { # hap_conf FILE NAME:LISTEN:FORWARD[:splice]...
    local file=$1 spec name listen fwd splice
    shift
    {
        printf 'global\n    maxconn 4000\n\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 120s\n    timeout server 120s\n\n'
        for spec in "$@"; do
            IFS=: read -r name listen fwd splice <<<"$spec"
            printf 'listen %s\n    bind 127.0.0.1:%s\n' "$name" "$listen"
            [ "$splice" = splice ] && printf '    option splice-request\n    option splice-response\n'
            printf '    server s1 127.0.0.1:%s\n\n' "$fwd"
        done
    } >"$file"
    haproxy -c -q -f "$file" || die "haproxy rejects $file"
}
hap_conf "$work/haproxy.cfg" "bulk:$p_hap_bulk:$p_iperf" "bulk_splice:$p_hap_splice:$p_iperf:splice" "rate:$p_hap_rate:$p_reply_hap"
hap_conf "$work/haproxy-mem.cfg" "idle:$p_hap_mem:$p_hold"

xinetd_service() { # NAME PORT then attribute lines
    local name=$1 port=$2
    shift 2
    printf 'service gwbench-%s\n{\n    type = UNLISTED\n    socket_type = stream\n    protocol = tcp\n    wait = no\n    user = root\n' "$name"
    printf '    bind = 127.0.0.1\n    port = %s\n    instances = UNLIMITED\n    per_source = UNLIMITED\n    cps = 100000 1\n' "$port"
    printf '    %s\n' "$@"
    printf '}\n\n'
}
{
    printf 'defaults\n{\n    log_type = FILE %s\n    log_on_success =\n    log_on_failure =\n}\n\n' "$work/xinetd.log"
    # redirect keeps xinetd's built-in libwrap check: it is xinetd's gate, as serve's decision is serve's
    xinetd_service redirect "$p_x_redirect" "redirect = 127.0.0.1 $p_reply_x"
    # the wrappers are judged alone: xinetd's own libwrap check is off for these
    xinetd_service echo "$p_x_echo" "flags = NOLIBWRAP" "server = /bin/echo" "server_args = ok"
    xinetd_service tcpd "$p_x_tcpd" "flags = NOLIBWRAP NAMEINARGS" "server = /usr/sbin/tcpd" "server_args = /bin/echo ok"
    xinetd_service gwtcpd "$p_x_gw" "flags = NOLIBWRAP NAMEINARGS" "server = $gw" "server_args = giftwrap tcpd /bin/echo ok"
    xinetd_service gwlean "$p_x_lean" "flags = NOLIBWRAP NAMEINARGS" "server = $gwt" "server_args = giftwrap-tcpd /bin/echo ok"
} >"$work/xinetd.conf"

section "configuration"
note "tables for serve: $work/tables/hosts.allow = 'ALL: ALL', hosts.deny empty; both tcpds read /etc/hosts.allow and /etc/hosts.deny:"
note "  /etc/hosts.allow: $(grep -cv '^[[:space:]]*\(#\|$\)' /etc/hosts.allow 2>/dev/null || echo 0) rule line(s); /etc/hosts.deny: $(grep -cv '^[[:space:]]*\(#\|$\)' /etc/hosts.deny 2>/dev/null || echo 0) rule line(s)"
note "  /dev/log: $([ -S /dev/log ] && echo present || echo 'absent (syslog lines of both tcpds go nowhere)')"
note "serve.conf:"; sed 's/^/  /' "$work/serve.conf"
note "haproxy.cfg:"; sed 's/^/  /' "$work/haproxy.cfg"
note "xinetd.conf:"; sed 's/^/  /' "$work/xinetd.conf"

# ---------------------------------------------------------------- start everything
start iperf3 iperf3 -s -B 127.0.0.1 -p "$p_iperf"
start reply "$bin/responder" "$p_reply" reply 900
start reply_serve "$bin/responder" "$p_reply_serve" reply 900
start reply_hap "$bin/responder" "$p_reply_hap" reply 900
start reply_x "$bin/responder" "$p_reply_x" reply 900
start serve "$gw" serve --config "$work/serve.conf"
start socat socat "TCP-LISTEN:$p_socat,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$p_iperf"
start socat_b socat -b 131072 "TCP-LISTEN:$p_socat_b,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$p_iperf"
start haproxy haproxy -db -f "$work/haproxy.cfg"
start xinetd xinetd -dontfork -f "$work/xinetd.conf" -pidfile "$work/xinetd.pid"
for pn in "$p_iperf:iperf3" "$p_reply:reply" "$p_reply_serve:reply_serve" "$p_reply_hap:reply_hap" "$p_reply_x:reply_x" "$p_serve_bulk:serve" "$p_serve_rate:serve" "$p_socat:socat" "$p_socat_b:socat_b" \
    "$p_hap_bulk:haproxy" "$p_hap_splice:haproxy" "$p_hap_rate:haproxy" "$p_x_redirect:xinetd" "$p_x_tcpd:xinetd" "$p_x_gw:xinetd" "$p_x_lean:xinetd" "$p_x_echo:xinetd"; do
    wait_listening "${pn%%:*}" "${pn#*:}"
done
grep -q 'listening on' "$work/serve.err" || die "serve did not say 'listening on'"
note "all peers listening; threads: serve $(ls /proc/${PID[serve]}/task | wc -l), haproxy $(ls /proc/${PID[haproxy]}/task | wc -l) (its default nbthread: one per CPU)"

# sanity: every path delivers the reply
for pn in "$p_reply:direct" "$p_serve_rate:serve" "$p_hap_rate:haproxy" "$p_x_redirect:xinetd-redirect" "$p_x_echo:xinetd-echo" "$p_x_tcpd:xinetd+tcpd" "$p_x_lean:xinetd+giftwrap-tcpd" "$p_x_gw:xinetd+giftwrap_tcpd"; do
    r=$(timeout 20 "$bin/connload" run 127.0.0.1 "${pn%%:*}" 3 1 10)
    [ "$(kv ok <<<"$r")" = 3 ] || die "${pn#*:} (port ${pn%%:*}) does not deliver the reply: $r"
done
note "sanity: all seven connection paths deliver \"ok\""

# ---------------------------------------------------------------- 1. throughput
section "1. bulk throughput (iperf3 -t $bulk_seconds -O 1, one stream, $bulk_rounds rounds interleaved)"
declare -A BULK=() BULKCPU=()
bulk_peers=(direct serve socat socat-128k haproxy haproxy-splice)
declare -A BULK_PORT=([direct]=$p_iperf [serve]=$p_serve_bulk [socat]=$p_socat [socat-128k]=$p_socat_b [haproxy]=$p_hap_bulk [haproxy-splice]=$p_hap_splice)
declare -A BULK_PID=([direct]="" [serve]=${PID[serve]} [socat]=${PID[socat]} [socat-128k]=${PID[socat_b]} [haproxy]=${PID[haproxy]} [haproxy-splice]=${PID[haproxy]})
for round in $(seq 1 "$bulk_rounds"); do
    for peer in $(rotated "$round" "${bulk_peers[@]}"); do
        pid=${BULK_PID[$peer]}
        c0=0
        [ -n "$pid" ] && c0=$(cpu_ticks "$pid")
        t0=$(date +%s.%N)
        json=$(timeout $((bulk_seconds + 20)) iperf3 -c 127.0.0.1 -p "${BULK_PORT[$peer]}" -t "$bulk_seconds" -O 1 -J 2>&1) || true
        sleep 0.3
        t1=$(date +%s.%N)
        gbit=$(jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' <<<"$json" 2>/dev/null || echo failed)
        [ -n "$gbit" ] && [ "$gbit" != null ] || gbit=failed
        cpu=""
        if [ -n "$pid" ]; then
            c1=$(cpu_ticks "$pid")
            cpu=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }')
        fi
        BULK[$peer]="${BULK[$peer]:-} $gbit"
        BULKCPU[$peer]="${BULKCPU[$peer]:-} $cpu"
        printf 'round %s  %-15s %8s Gbit/s   proxy CPU %s%%\n' "$round" "$peer" "$gbit" "${cpu:--}"
    done
done

# ---------------------------------------------------------------- 2. connection rate
section "2. connections per second (connload, $rate_threads threads, $rate_rounds rounds interleaved; ${rate_fast} or ${rate_fork} connections, at most ${rate_max} s each)"
declare -A RATE=() P50=() P99=() ERRS=()
rate_peers=(direct serve haproxy xinetd-redirect xinetd-echo xinetd+tcpd xinetd+giftwrap-tcpd xinetd+giftwrap_tcpd)
declare -A RATE_PORT=([direct]=$p_reply [serve]=$p_serve_rate [haproxy]=$p_hap_rate [xinetd-redirect]=$p_x_redirect
    [xinetd-echo]=$p_x_echo [xinetd+tcpd]=$p_x_tcpd [xinetd+giftwrap-tcpd]=$p_x_lean [xinetd+giftwrap_tcpd]=$p_x_gw)
declare -A RATE_N=([direct]=$rate_fast [serve]=$rate_fast [haproxy]=$rate_fast [xinetd-redirect]=$rate_fork
    [xinetd-echo]=$rate_fork [xinetd+tcpd]=$rate_fork [xinetd+giftwrap-tcpd]=$rate_fork [xinetd+giftwrap_tcpd]=$rate_fork)
for round in $(seq 1 "$rate_rounds"); do
    for peer in $(rotated "$round" "${rate_peers[@]}"); do
        r=$(timeout $((rate_max + 30)) "$bin/connload" run 127.0.0.1 "${RATE_PORT[$peer]}" "${RATE_N[$peer]}" "$rate_threads" "$rate_max" || echo "RESULT failed")
        rate=$(kv rate <<<"$r")
        ec=$(kv err_connect <<<"$r") er=$(kv err_read <<<"$r") ee=$(kv err_empty <<<"$r")
        errs=$((${ec:-0} + ${er:-0} + ${ee:-0}))
        RATE[$peer]="${RATE[$peer]:-} ${rate:-0}"
        P50[$peer]="${P50[$peer]:-} $(kv p50_us <<<"$r")"
        P99[$peer]="${P99[$peer]:-} $(kv p99_us <<<"$r")"
        ERRS[$peer]=$((${ERRS[$peer]:-0} + errs))
        printf 'round %s  %-22s %s\n' "$round" "$peer" "${r#RESULT }"
        # let TIME_WAIT sockets and forked children settle between peers
        sleep 0.5
    done
done

# ---------------------------------------------------------------- 3. tcpd start-to-exit
section "3. tcpd start-to-exit (execbench: fork, socket on fds 0-2, exec, wait; $exec_count rounds interleaved)"
check=$(timeout 60 "$bin/execbench" 1 :: bare /bin/echo /bin/echo ok :: tcpd /usr/sbin/tcpd /bin/echo ok :: giftwrap-tcpd "$gwt" giftwrap-tcpd /bin/echo ok :: giftwrap_tcpd "$gw" giftwrap tcpd /bin/echo ok)
for l in bare tcpd giftwrap-tcpd giftwrap_tcpd; do
    [ "$(grep "label=$l " <<<"$check" | kv output_bytes)" = 3 ] || die "$l /bin/echo ok did not write 'ok' to the socket: $check"
done
note "check: each wrapper execs its daemon (/bin/echo ok wrote 3 bytes to the socket for all four)"
# floors beside the two wrappers: bare exec of /bin/true, an empty NativeAOT program, `giftwrap --version`
ex=$(timeout 600 "$bin/execbench" "$exec_count" :: bare /bin/true /bin/true :: aot-empty "$aot_empty" aot-empty \
    :: giftwrap--version "$gw" giftwrap --version :: tcpd /usr/sbin/tcpd /bin/true :: giftwrap-tcpd "$gwt" giftwrap-tcpd /bin/true \
    :: giftwrap_tcpd "$gw" giftwrap tcpd /bin/true)
printf '%s\n' "$ex"

# ---------------------------------------------------------------- 4. memory
section "4. memory with $idle idle connections (VmRSS; backend holds each connection after writing \"ok\")"
stop socat
stop socat_b
start hold "$bin/responder" "$p_hold" hold 900
start serve_mem "$gw" serve --config "$work/serve-mem.conf"
start haproxy_mem haproxy -db -f "$work/haproxy-mem.cfg"
wait_listening "$p_hold" hold
wait_listening "$p_serve_mem" serve_mem
wait_listening "$p_hap_mem" haproxy_mem
declare -A MEM=()
for peer in serve haproxy; do
    if [ "$peer" = serve ]; then pid=${PID[serve_mem]} port=$p_serve_mem; else pid=${PID[haproxy_mem]} port=$p_hap_mem; fi
    start_rss=$(rss_kib "$pid")
    # warm-up: 50 connections opened and closed, so first-use costs are not counted per connection
    timeout 60 "$bin/connload" hold 127.0.0.1 "$port" 50 0 >/dev/null
    sleep 1
    r0=$(rss_kib "$pid") f0=$(fds "$pid")
    start holder "$bin/connload" hold 127.0.0.1 "$port" "$idle" 120
    for _ in $(seq 1 600); do
        grep -q HELD "$work/holder.out" && break
        sleep 0.1
    done
    held=$(kv ok <<<" $(grep HELD "$work/holder.out" || echo)")
    [ "${held:-0}" = "$idle" ] || note "warning: $peer held ${held:-0} of $idle connections: $(cat "$work/holder.out")"
    sleep 2
    r1=$(rss_kib "$pid") f1=$(fds "$pid") h1=$(hwm_kib "$pid")
    stop holder
    sleep 2
    r2=$(rss_kib "$pid")
    per=$(awk -v a="$r0" -v b="$r1" -v n="${held:-1}" 'BEGIN { printf "%.1f", (b - a) * 1024 / n / 1024 }')
    MEM[$peer]="$start_rss $r0 $r1 $r2 $h1 $f0 $f1 ${held:-0} $per"
    printf '%-8s RSS at start %6d KiB, after warm-up %6d KiB, with %s idle %6d KiB (peak %d), after close %6d KiB; fds %d -> %d; %.1f KiB per connection\n' \
        "$peer" "$start_rss" "$r0" "${held:-0}" "$r1" "$h1" "$r2" "$f0" "$f1" "$per"
done
stop serve_mem
stop haproxy_mem
stop hold

# ---------------------------------------------------------------- errors from the daemons
section "daemon logs (errors only)"
grep -v -e 'connect from' -e 'listening on' "$work/serve.err" | head -n 5 || true
grep -iv -e '^$' "$work/haproxy.err" | head -n 5 || true
grep -iv -e '^$' "$work/xinetd.err" | grep -iv -e 'Started working' -e 'Reading included' -e 'xinetd Version' | head -n 5 || true
note "serve logged $(grep -c 'connect from' "$work/serve.err" || true) 'connect from' lines to stderr (its console log; HAProxy and xinetd logged nothing per connection)"

# ---------------------------------------------------------------- summary
section "summary (Markdown)"
note "load after: $(cut -d' ' -f1-3 /proc/loadavg); run took $(($(date +%s) - started)) s"
echo
med() { tr ' ' '\n' <<<"$1" | { grep -v -e '^$' -e failed || true; } | median; }
fmt_list() { sed 's/^ //; s/ /, /g' <<<"$1"; }

echo "#### Bulk throughput (iperf3, 1 stream, ${bulk_seconds} s + 1 s omitted, ${bulk_rounds} rounds)"
echo
echo "| path | Gbit/s (median) | rounds | proxy CPU, % of one core (median) |"
echo "|---|---:|---|---:|"
for peer in "${bulk_peers[@]}"; do
    c=$(med "${BULKCPU[$peer]}")
    [ "$peer" = direct ] && c="–"
    printf '| %s | **%s** | %s | %s |\n' "$peer" "$(med "${BULK[$peer]}")" "$(fmt_list "${BULK[$peer]}")" "$c"
done
echo
echo "#### Connections per second (connload, ${rate_threads} threads, ${rate_rounds} rounds)"
echo
echo "| path | conn/s (median) | rounds | p50 / p99 latency, µs (median) | errors |"
echo "|---|---:|---|---:|---:|"
for peer in "${rate_peers[@]}"; do
    printf '| %s | **%s** | %s | %s / %s | %s |\n' "$peer" "$(med "${RATE[$peer]}")" "$(fmt_list "${RATE[$peer]}")" \
        "$(med "${P50[$peer]}")" "$(med "${P99[$peer]}")" "${ERRS[$peer]}"
done
echo
echo "#### tcpd start-to-exit (${exec_count} runs each, interleaved)"
echo
echo "| command | median µs | mean µs | p90 µs | min µs | failures |"
echo "|---|---:|---:|---:|---:|---:|"
declare -A EXEC_NAME=([bare]='`/bin/true` (no wrapper)' [aot-empty]='empty NativeAOT program (floor)' [giftwrap--version]='`giftwrap --version` (floor)'
    [tcpd]="libwrap \`tcpd /bin/true\`" [giftwrap-tcpd]='`giftwrap-tcpd /bin/true` (lean binary)' [giftwrap_tcpd]='`giftwrap tcpd /bin/true` (full CLI)')
for l in bare aot-empty giftwrap--version tcpd giftwrap-tcpd giftwrap_tcpd; do
    line=$(grep "label=$l " <<<"$ex")
    printf '| %s | **%s** | %s | %s | %s | %s |\n' "${EXEC_NAME[$l]}" "$(kv median_us <<<"$line")" "$(kv mean_us <<<"$line")" \
        "$(kv p90_us <<<"$line")" "$(kv min_us <<<"$line")" "$(kv failures <<<"$line")"
done
echo
echo "#### Memory with ${idle} idle connections"
echo
echo "| daemon | RSS at start | after warm-up | with ${idle} idle | after close | fds | per idle connection |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for peer in serve haproxy; do
    read -r s0 m0 m1 m2 _ f0 f1 held per <<<"${MEM[$peer]}"
    printf '| %s | %s KiB | %s KiB | %s KiB | %s KiB | %s → %s | **%s KiB** |\n' "$peer" "$s0" "$m0" "$m1" "$m2" "$f0" "$f1" "$per"
done
echo

# ---------------------------------------------------------------- goals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "nan" || b == "nan") print "nan"; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN { if (v == "nan") { print "no figure"; exit } ok = (op == ">=") ? (v + 0 >= g + 0) : (v + 0 <= g + 0); print ok ? "met" : "missed" }'; }
serve_bulk=$(med "${BULK[serve]}") hap_splice=$(med "${BULK[haproxy-splice]}")
serve_rate=$(med "${RATE[serve]}") hap_rate=$(med "${RATE[haproxy]}")
tcpd_med=$(grep 'label=tcpd ' <<<"$ex" | kv median_us) gw_med=$(grep 'label=giftwrap-tcpd ' <<<"$ex" | kv median_us)
bare_med=$(grep 'label=bare ' <<<"$ex" | kv median_us)
x_tcpd=$(med "${RATE[xinetd+tcpd]}") x_gw=$(med "${RATE[xinetd+giftwrap-tcpd]}")
read -r _ _ _ _ _ _ _ _ mem_serve <<<"${MEM[serve]}"
read -r _ _ _ _ _ _ _ _ mem_hap <<<"${MEM[haproxy]}"
r_bulk=$(ratio "$serve_bulk" "$hap_splice")
r_rate=$(ratio "$serve_rate" "$hap_rate")
r_exec=$(ratio "$gw_med" "$tcpd_med")
r_exec_net=$(ratio "$((gw_med - bare_med))" "$((tcpd_med - bare_med))")
r_xinetd=$(ratio "$x_tcpd" "$x_gw")
r_mem=$(ratio "$mem_serve" "$mem_hap")
echo "#### Goals"
echo
echo "| goal | figure | verdict |"
echo "|---|---|---|"
echo "| serve bulk ≥ HAProxy with splice | $serve_bulk vs $hap_splice Gbit/s (×$r_bulk) | $(verdict "$r_bulk" '>=' 1) |"
echo "| serve conn/s ≥ HAProxy | $serve_rate vs $hap_rate conn/s (×$r_rate) | $(verdict "$r_rate" '>=' 1) |"
echo "| giftwrap-tcpd ≤ 1.5× libwrap tcpd, start-to-exit | median $gw_med vs $tcpd_med µs (×$r_exec; above bare exec of $bare_med µs: ×$r_exec_net) | $(verdict "$r_exec" '<=' 1.5) |"
echo "| giftwrap-tcpd ≤ 1.5× libwrap tcpd, per connection through xinetd | $x_gw vs $x_tcpd conn/s (time per connection ×$r_xinetd) | $(verdict "$r_xinetd" '<=' 1.5) |"
echo "| serve memory per idle connection ≤ HAProxy | $mem_serve vs $mem_hap KiB (×$r_mem) | $(verdict "$r_mem" '<=' 1) |"
echo
note "CPUs busy after the run (3 s sample, other users): $(busy_percent 3)%"
