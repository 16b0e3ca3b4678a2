#!/usr/bin/env bash
# tcpd-time.sh: wall-clock time of libwrap's tcpd beside giftwrap-tcpd, for a QUIET machine (issue 16's
# goal: giftwrap-tcpd no slower, start to exit and through xinetd). The load-independent counts behind
# the figures are bench/gate/tcpd-counts.sh; the full gate benchmark is bench/gate/run.sh.
#
#   bench/gate/tcpd-time.sh                       publish giftwrap-tcpd and aot-empty from the working tree
#   GIFTWRAP_TCPD_BIN=path AOT_EMPTY_BIN=path bench/gate/tcpd-time.sh
#
# 1. start to exit: execbench, EXEC_COUNT (1000) rounds, the commands interleaved within each round:
#    /bin/true bare, the empty NativeAOT program, tcpd /bin/true, giftwrap-tcpd /bin/true.
# 2. the same pair under hyperfine -N (when installed; HYPERFINE_RUNS, 1000): each run is one execbench
#    round (its loopback connection set-up included, alike for both), so the ratio is slightly diluted.
# 3. through xinetd: connload, RATE_THREADS (8) clients, RATE_COUNT (2000) connections per round,
#    RATE_ROUNDS (5) rounds with the peers rotated; xinetd -> tcpd -> /bin/echo and
#    xinetd -> giftwrap-tcpd -> /bin/echo (xinetd's own libwrap check off for both).
# Ends with a Markdown table: medians and giftwrap-tcpd / tcpd ratios (time: <= 1.0 is the goal).
# Every process started is stopped by pid (bench/lib/procs.sh); ports TCPD_TIME_PORT (27300) and +1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
exec_count=${EXEC_COUNT:-1000}
hf_runs=${HYPERFINE_RUNS:-1000}
rate_threads=${RATE_THREADS:-8}
rate_count=${RATE_COUNT:-2000}
rate_rounds=${RATE_ROUNDS:-5}
port=${TCPD_TIME_PORT:-27300}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

die() { printf 'tcpd-time.sh: %s\n' "$*" >&2; exit 1; }
[ -x /usr/sbin/tcpd ] || die "libwrap's /usr/sbin/tcpd is needed (Debian package tcpd)"
command -v xinetd >/dev/null || die "xinetd is needed"
work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-tcpd-time.XXXXXX")
# shellcheck source=../lib/procs.sh
. "$here/../lib/procs.sh"
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
for p in "$port" $((port + 1)); do
    listening "$p" && die "port $p is in use; set TCPD_TIME_PORT"
done

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; the figures mean something only on a quiet machine)"
for p in execbench connload; do
    gcc -O2 -Wall -pthread -I "$here/../lib" -o "$work/$p" "$here/$p.c"
done
# shellcheck source=../lib/tcpd-bins.sh
. "$here/../lib/tcpd-bins.sh"
tcpd_bins
gwt=$(readlink -f "$GIFTWRAP_TCPD_BIN")
echo "giftwrap-tcpd: $gwt ($(stat -c %s "$gwt") bytes)"

# both wrappers really exec their daemon: /bin/echo ok writes 3 bytes to the socket
check=$("$work/execbench" 1 :: tcpd /usr/sbin/tcpd /bin/echo ok :: giftwrap-tcpd "$gwt" giftwrap-tcpd /bin/echo ok)
for l in tcpd giftwrap-tcpd; do
    [ "$(grep "label=$l " <<<"$check" | kv output_bytes)" = 3 ] || die "$l /bin/echo ok did not write 'ok' to the socket: $check"
done

echo "== 1. start to exit (execbench, $exec_count rounds interleaved)"
ex=$("$work/execbench" "$exec_count" :: bare /bin/true /bin/true :: aot-empty "$AOT_EMPTY_BIN" aot-empty \
    :: tcpd /usr/sbin/tcpd /bin/true :: giftwrap-tcpd "$gwt" giftwrap-tcpd /bin/true)
printf '%s\n' "$ex"

hf=""
if command -v hyperfine >/dev/null; then
    echo "== 2. hyperfine -N, $hf_runs runs each"
    hyperfine -N --warmup 20 --runs "$hf_runs" --export-json "$work/hf.json" \
        -n tcpd "$work/execbench 1 :: t /usr/sbin/tcpd /bin/true" \
        -n giftwrap-tcpd "$work/execbench 1 :: t $gwt giftwrap-tcpd /bin/true"
    hf=$(python3 -c 'import json,sys; r={x["command"]: x["median"] * 1e6 for x in json.load(open(sys.argv[1]))["results"]}; print(round(r["tcpd"]), round(r["giftwrap-tcpd"]))' "$work/hf.json" 2>/dev/null || true)
fi

echo "== 3. through xinetd (connload, $rate_threads threads, $rate_count connections, $rate_rounds rounds)"
service() { # NAME PORT SERVER ARGS
    printf 'service gwtime-%s\n{\n    type = UNLISTED\n    socket_type = stream\n    protocol = tcp\n    wait = no\n    user = root\n' "$1"
    printf '    bind = 127.0.0.1\n    port = %s\n    instances = UNLIMITED\n    per_source = UNLIMITED\n    cps = 100000 1\n' "$2"
    printf '    flags = NOLIBWRAP NAMEINARGS\n    server = %s\n    server_args = %s\n}\n\n' "$3" "$4"
}
{
    printf 'defaults\n{\n    log_type = FILE %s\n    log_on_success =\n    log_on_failure =\n}\n\n' "$work/xinetd.log"
    service tcpd "$port" /usr/sbin/tcpd "/bin/echo ok"
    service lean $((port + 1)) "$gwt" "giftwrap-tcpd /bin/echo ok"
} >"$work/xinetd.conf"
start xinetd xinetd -dontfork -f "$work/xinetd.conf" -pidfile "$work/xinetd.pid"
wait_listening "$port" xinetd 30
wait_listening $((port + 1)) xinetd 30
declare -A RATE=() PORT=([tcpd]=$port [giftwrap-tcpd]=$((port + 1)))
for round in $(seq 1 "$rate_rounds"); do
    for peer in $(rotated "$round" tcpd giftwrap-tcpd); do
        r=$(timeout 120 "$work/connload" run 127.0.0.1 "${PORT[$peer]}" "$rate_count" "$rate_threads" 60 || echo "RESULT failed")
        RATE[$peer]="${RATE[$peer]:-} $(kv rate <<<"$r")"
        printf 'round %s  %-14s %s\n' "$round" "$peer" "${r#RESULT }"
        sleep 0.5
    done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
per_conn() { awk -v r="$1" 'BEGIN { printf "%.0f", (r > 0 ? 1e6 / r : 0) }'; }
t_tcpd=$(grep 'label=tcpd ' <<<"$ex" | kv median_us) t_gw=$(grep 'label=giftwrap-tcpd ' <<<"$ex" | kv median_us)
r_tcpd=$(med "${RATE[tcpd]}") r_gw=$(med "${RATE[giftwrap-tcpd]}")
echo
echo "| measure | libwrap tcpd | giftwrap-tcpd | giftwrap-tcpd / tcpd |"
echo "|---|---:|---:|---:|"
echo "| start to exit, median us (execbench, $exec_count rounds) | $t_tcpd | $t_gw | $(ratio "$t_gw" "$t_tcpd") |"
[ -n "$hf" ] && echo "| start to exit, median us (hyperfine -N, $hf_runs runs) | ${hf% *} | ${hf#* } | $(ratio "${hf#* }" "${hf% *}") |"
echo "| time per connection through xinetd, us (1e6 / median conn/s of $rate_rounds rounds) | $(per_conn "$r_tcpd") | $(per_conn "$r_gw") | $(ratio "$r_tcpd" "$r_gw") |"
echo "floors: /bin/true $(grep 'label=bare ' <<<"$ex" | kv median_us) us, empty NativeAOT program $(grep 'label=aot-empty ' <<<"$ex" | kv median_us) us (median)"
