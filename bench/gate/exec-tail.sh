#!/usr/bin/env bash
# exec services' latency tail (issue 16): `giftwrap serve` with `exec = /bin/echo ok` beside xinetd's
# `server = /bin/echo`, `server_args = ok` (NOLIBWRAP), connload (connect, read until EOF, close) in
# rounds alternating between the two; prints conn/s, p50, p90, p99 and p99/p50 per round, then medians.
#
#   GIFTWRAP_BIN=path bench/gate/exec-tail.sh     (a NativeAOT giftwrap; required: this script does not publish)
#   BASELINE_BIN=path                             (optional: a second giftwrap, e.g. an older commit's, as peer "base")
#   ROUNDS (3) COUNT (3000) THREADS (8) EXEC_TAIL_PORT_BASE (27300; ports +0, +1, +2)
# Not here: the other gate measures (bench/gate/run.sh). Loopback only; every process it starts is stopped by pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rounds=${ROUNDS:-3}
count=${COUNT:-3000}
threads=${THREADS:-8}
base=${EXEC_TAIL_PORT_BASE:-27300}
p_serve=$base
p_xinetd=$((base + 1))
p_base=$((base + 2))

die() { printf 'exec-tail.sh: %s\n' "$*" >&2; exit 1; }
gw=$(readlink -f "${GIFTWRAP_BIN:?GIFTWRAP_BIN must name a published giftwrap}")
[ -x "$gw" ] || die "$gw is not executable"
peers=(serve xinetd)
if [ -n "${BASELINE_BIN:-}" ]; then
    gw_base=$(readlink -f "$BASELINE_BIN")
    [ -x "$gw_base" ] || die "$gw_base is not executable"
    peers+=(base)
fi
command -v xinetd >/dev/null || die "xinetd is not installed"

work=$(mktemp -d)
# shellcheck source=../lib/procs.sh
. "$here/../lib/procs.sh"
trap 'stop_all; rm -rf "$work"' EXIT

gcc -O2 -Wall -pthread -I "$here/../lib" -o "$work/connload" "$here/connload.c"

printf 'ALL: ALL\n' >"$work/hosts.allow"
printf '# empty\n' >"$work/hosts.deny"
cat >"$work/serve.conf" <<EOF
[tables]
allow = $work/hosts.allow
deny = $work/hosts.deny

[service:echo]
listen = 127.0.0.1:$p_serve
exec = /bin/echo ok

[limits]
max_connections = 20000
max_per_source = 20000

[log]
syslog = off
EOF
cat >"$work/xinetd.conf" <<EOF
defaults
{
    log_type = FILE $work/xinetd.log
    log_on_success =
    log_on_failure =
}

service gwbench-echo
{
    type = UNLISTED
    socket_type = stream
    protocol = tcp
    wait = no
    user = root
    bind = 127.0.0.1
    port = $p_xinetd
    instances = UNLIMITED
    per_source = UNLIMITED
    cps = 100000 1
    flags = NOLIBWRAP
    server = /bin/echo
    server_args = ok
}
EOF

start serve "$gw" serve --config "$work/serve.conf"
if [ -n "${gw_base:-}" ]; then
    sed "s/127.0.0.1:$p_serve/127.0.0.1:$p_base/" "$work/serve.conf" >"$work/base.conf"
    start base "$gw_base" serve --config "$work/base.conf"
    wait_listening "$p_base" base
    "$work/connload" run 127.0.0.1 "$p_base" 200 "$threads" 20 >/dev/null
fi
start xinetd xinetd -dontfork -f "$work/xinetd.conf" -pidfile "$work/xinetd.pid"
wait_listening "$p_serve" serve
wait_listening "$p_xinetd" xinetd
# warm up both (the first connections page code in)
"$work/connload" run 127.0.0.1 "$p_serve" 200 "$threads" 20 >/dev/null
"$work/connload" run 127.0.0.1 "$p_xinetd" 200 "$threads" 20 >/dev/null

printf '%-7s %-6s %8s %8s %8s %8s %8s %7s\n' peer round conn/s p50_us p90_us p99_us errors p99/p50
declare -A RATIOS=() P99=()
for round in $(seq 1 "$rounds"); do
    for peer in $(rotated "$round" "${peers[@]}"); do
        declare -A PORTS=([serve]=$p_serve [xinetd]=$p_xinetd [base]=$p_base)
        port=${PORTS[$peer]}
        r=$(timeout 120 "$work/connload" run 127.0.0.1 "$port" "$count" "$threads" 60 || echo "RESULT failed")
        p50=$(kv p50_us <<<" $r")
        p99=$(kv p99_us <<<" $r")
        errors=$(($(kv err_connect <<<" $r") + $(kv err_read <<<" $r") + $(kv err_empty <<<" $r")))
        ratio=$(awk -v a="$p99" -v b="$p50" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
        RATIOS[$peer]+="$ratio "
        P99[$peer]+="$p99 "
        printf '%-7s %-6s %8s %8s %8s %8s %8s %7s\n' "$peer" "$round" "$(kv rate <<<" $r")" "$p50" "$(kv p90_us <<<" $r")" "$p99" "$errors" "${ratio}x"
    done
done
for peer in "${peers[@]}"; do
    printf 'median %-7s p99 %s us, p99/p50 %sx\n' "$peer" \
        "$(tr ' ' '\n' <<<"${P99[$peer]}" | grep . | median)" "$(tr ' ' '\n' <<<"${RATIOS[$peer]}" | grep . | median)"
done
