#!/usr/bin/env bash
# What it costs to tell a forward backend who the client is (docs/benchmarks.md, "The client's
# address for backends"): connections per second, latency and the gate's CPU per connection for
#   direct        the client straight to a backend (no gate), the floor
#   forward       `serve` forward, the backend sees the gate's address
#   proxy-v1      forward + proxy_protocol = v1 (the backend reads the header, then answers)
#   proxy-v2      forward + proxy_protocol = v2
#   transparent   forward + transparent = yes (the backend's accept() sees the client)
#   exec          exec = /bin/echo ok: a program per connection on the client's own socket
#                 (the price of the `exec = /usr/sbin/sshd -i` way, without sshd's own work)
# all in one run, rounds interleaved and rotated. The client cannot be on the gate's host for
# transparent to mean anything, so everything runs in network namespaces this script creates:
# the gate and its backends in one (a new `unshare -n`), the client (bench/gate/connload.c) in
# another, joined by a veth pair (10.231.0.1 gate, 10.231.0.2 client); the return path of the
# transparent backend is examples/transparent/routing.sh's. Nothing touches the host's network.
#
#   sudo bench/gate/client-address.sh        (root: namespaces, veth, IP_TRANSPARENT)
#
# Environment: GIFTWRAP_BIN=path (a published giftwrap; default: publish NativeAOT from the
# working tree into the temp dir), ROUNDS (3), COUNT (20000 connections per row and round),
# THREADS (8), MAX_SECONDS (10 per row and round). Every loop is bounded in count and time;
# every process started is stopped by pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rounds=${ROUNDS:-3}
count=${COUNT:-20000}
threads=${THREADS:-8}
max=${MAX_SECONDS:-10}

if [ "${1:-}" != --inside ]; then
    [ "$(id -u)" -eq 0 ] || { echo "client-address.sh: needs root (network namespaces, IP_TRANSPARENT)" >&2; exit 1; }
    work=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-client-address.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    if [ -n "${GIFTWRAP_BIN:-}" ]; then
        gw=$(readlink -f "$GIFTWRAP_BIN")
    else
        echo "publishing giftwrap (NativeAOT) from $repo/src ..."
        (cd "$repo" && dotnet publish src/Giftwrap.Cli -c Release -r linux-x64 -o "$work/giftwrap" --nologo -v quiet >"$work/publish.log" 2>&1) \
            || { tail -n 30 "$work/publish.log" >&2; exit 1; }
        gw=$work/giftwrap/giftwrap
    fi
    gcc -O2 -pthread -I "$here/../lib" -o "$work/connload" "$here/connload.c"
    gcc -O2 -o "$work/ppresponder" "$here/ppresponder.c"
    unshare -n "$0" --inside "$work" "$gw"
    exit
fi

work=$2
gw=$3
declare -A PID=()
cleanup() {
    local name
    for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null || true; done
    for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
}
trap cleanup EXIT
listening() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' /proc/net/tcp
}
wait_listening() {
    local i
    for i in $(seq 1 100); do listening "$1" && return 0; sleep 0.1; done
    echo "client-address.sh: nothing listens on $1 after 10 s" >&2
    exit 1
}
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -n1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# ---------------------------------------------------------------- the two namespaces
ip link set lo up
unshare -n sleep 3600 &
PID[client_ns]=$!
for i in $(seq 1 50); do
    [ "$(readlink "/proc/${PID[client_ns]}/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
    sleep 0.05
done
ip link add gw0 type veth peer name cl0 netns "${PID[client_ns]}"
ip addr add 10.231.0.1/24 dev gw0
ip link set gw0 up
nsenter -t "${PID[client_ns]}" -n sh -c 'ip link set lo up; ip addr add 10.231.0.2/24 dev cl0; ip link set cl0 up'
in_client() { nsenter -t "${PID[client_ns]}" -n "$@"; }

# ---------------------------------------------------------------- backends and the gate
b=27300
declare -A PORT=([direct]=$((b + 1)) [forward]=$((b + 2)) [proxy-v1]=$((b + 3)) [proxy-v2]=$((b + 4)) [transparent]=$((b + 5)) [exec]=$((b + 6)))
"$work/ppresponder" 10.231.0.1 "${PORT[direct]}" plain 3600 >"$work/direct.out" & PID[direct]=$!
"$work/ppresponder" 127.0.0.1 $((b + 12)) plain 3600 >"$work/forward.out" & PID[b_forward]=$!
"$work/ppresponder" 127.0.0.1 $((b + 13)) proxy 3600 >"$work/proxy-v1.out" & PID[b_v1]=$!
"$work/ppresponder" 127.0.0.1 $((b + 14)) proxy 3600 >"$work/proxy-v2.out" & PID[b_v2]=$!
"$work/ppresponder" 127.0.0.1 $((b + 15)) plain 3600 >"$work/transparent.out" & PID[b_transparent]=$!
sh "$repo/examples/transparent/routing.sh" add 127.0.0.1 $((b + 15))
printf 'ALL: ALL\n' >"$work/hosts.allow"
: >"$work/hosts.deny"
cat >"$work/giftwrap.conf" <<EOF
[tables]
allow = $work/hosts.allow
deny = $work/hosts.deny
[log]
syslog = off
[limits]
max_per_source = 4096
[service:forward]
listen = 10.231.0.1:${PORT[forward]}
forward = 127.0.0.1:$((b + 12))
[service:proxy1]
listen = 10.231.0.1:${PORT[proxy-v1]}
forward = 127.0.0.1:$((b + 13))
proxy_protocol = v1
[service:proxy2]
listen = 10.231.0.1:${PORT[proxy-v2]}
forward = 127.0.0.1:$((b + 14))
proxy_protocol = v2
[service:transparent]
listen = 10.231.0.1:${PORT[transparent]}
forward = 127.0.0.1:$((b + 15))
transparent = yes
[service:exec]
listen = 10.231.0.1:${PORT[exec]}
exec = /bin/echo ok
EOF
"$gw" serve --config "$work/giftwrap.conf" >/dev/null 2>"$work/gate.err" & PID[gate]=$!
for m in "${!PORT[@]}"; do wait_listening "${PORT[$m]}"; done

# ---------------------------------------------------------------- rounds
modes=(direct forward proxy-v1 proxy-v2 transparent exec)
echo "giftwrap: $gw; $(nproc) cores; $rounds rounds of $count connections (at most $max s), $threads client threads"
for ((r = 1; r <= rounds; r++)); do
    for ((i = 0; i < ${#modes[@]}; i++)); do
        m=${modes[$(((i + r - 1) % ${#modes[@]}))]}
        before=$(cpu_ticks "${PID[gate]}")
        line=$(in_client timeout $((max + 30)) "$work/connload" run 10.231.0.1 "${PORT[$m]}" "$count" "$threads" "$max" || echo "RESULT failed")
        after=$(cpu_ticks "${PID[gate]}")
        ok=$(kv ok <<<"$line")
        echo "round $r $m $line gate_cpu_ticks=$((after - before))"
        echo "$m $(kv rate <<<"$line") $(kv p50_us <<<"$line") $(kv p99_us <<<"$line") $((after - before)) ${ok:-0}" >>"$work/results"
    done
done

hz=$(getconf CLK_TCK)
echo
echo "| path | connections/s | p50 latency | p99 latency | gate CPU per connection | backend's accept() saw | the PROXY header said |"
echo "| --- | ---: | ---: | ---: | ---: | --- | --- |"
for m in "${modes[@]}"; do
    rate=$(awk -v m="$m" '$1 == m { print $2 }' "$work/results" | median)
    p50=$(awk -v m="$m" '$1 == m { print $3 }' "$work/results" | median)
    p99=$(awk -v m="$m" '$1 == m { print $4 }' "$work/results" | median)
    cpu=$(awk -v m="$m" -v hz="$hz" '$1 == m && $6 > 0 { print $5 / hz * 1e6 / $6 }' "$work/results" | median)
    [ "$m" = direct ] && cpu="-"
    [ "$cpu" != "-" ] && cpu=$(printf '%.0f us' "$cpu")
    seen=$( [ "$m" = exec ] && echo "10.231.0.2 (its own socket)" || sed -n 's/^FIRST_PEER //p' "$work/$m.out")
    said=$( [ "$m" = exec ] || sed -n 's/^FIRST_HEADER //p' "$work/$m.out")
    printf '| %s | %.0f | %.0f us | %.0f us | %s | %s | %s |\n' "$m" "$rate" "$p50" "$p99" "$cpu" "${seen:-?}" "${said:--}"
done
sh "$repo/examples/transparent/routing.sh" del 127.0.0.1 $((b + 15))
