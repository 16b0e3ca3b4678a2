#!/usr/bin/env bash
# 100,000 CrowdSec decisions from a real Local API to bans a running `giftwrap serve` enforces.
# Starts Debian's crowdsec (unpacked in $GIFTWRAP_CROWDSEC_DIR, as scripts/test.sh does) offline
# on a free loopback port with its database in a temp dir, imports N decisions for distinct
# addresses with `cscli decisions import`, then measures:
#   1. the LAPI alone answering the full list (curl, GET /v1/decisions/stream?startup=true);
#   2. a gate started with the N decisions in the LAPI: start to "N decision(s) in force"
#      (the LAPI's answer, parsing, and the bans written to the store and enforced);
#   3. a running gate following N new decisions as deltas: from the end of a second import
#      to the last of them enforced (poll = 1s).
# With KERNEL=yes the whole run happens in a network namespace made for it (`unshare -n`, so the
# machine's own ruleset is never touched) and the gate has `[kernel] nftables = yes`: 2. and 3. then
# also time the bans reaching the kernel, until the gate's giftwrap_kernel_elements gauge (its
# [metrics] endpoint, polled every 0.1 s: elements written by nft that exited 0) holds them all,
# and the set `a4` of `table inet giftwrap` is listed once afterwards to check the count.
# Everything is stopped by pid at the end.
#
#   bench/crowdsec/run.sh [N]                (default 100000)
#   KERNEL=yes bench/crowdsec/run.sh [N]     the same with the kernel set (root: unshare, nft)
# GIFTWRAP=COMMAND   the giftwrap to run, words allowed ("dotnet path/giftwrap.dll"); default: the
#                    NativeAOT one scripts/publish.sh builds
set -euo pipefail
n=${1:-100000}
kernel=${KERNEL:-no}
if [ "$kernel" = yes ] && [ -z "${GIFTWRAP_CROWDSEC_IN_NETNS:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "run.sh: KERNEL=yes needs root (unshare -n, nft)" >&2; exit 1; }
    exec unshare --net -- env GIFTWRAP_CROWDSEC_IN_NETNS=1 "$0" "$@"
fi
[ "$kernel" = yes ] && ip link set lo up
cd "$(dirname "$0")/../.."
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); kernel set: $kernel"
root=${GIFTWRAP_CROWDSEC_DIR:-/var/cache/giftwrap-tests/crowdsec}
[ -x "$root/usr/bin/crowdsec" ] || { echo "run.sh: $root/usr/bin/crowdsec is missing (scripts/test.sh unpacks it)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "${GIFTWRAP:-}" ]; then
    scripts/publish.sh --output "$work/bin" >/dev/null
    GIFTWRAP="$work/bin/giftwrap"
fi
read -ra giftwrap <<<"$GIFTWRAP"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gate=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metrics=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/data" "$work/hub" "$work/config"
echo '{}' >"$work/hub/.index.json"
echo 'simulation: off' >"$work/config/simulation.yaml"
cp "$root/etc/crowdsec/profiles.yaml" "$work/config/"
cat >"$work/config.yaml" <<YAML
common: {daemonize: false, log_media: stdout, log_level: warning, working_dir: $work}
config_paths: {config_dir: $work/config/, data_dir: $work/data/, simulation_path: $work/config/simulation.yaml, hub_dir: $work/hub/, index_path: $work/hub/.index.json, notification_dir: $work/config/notifications/, plugin_dir: $work/plugins/}
db_config: {type: sqlite, db_path: $work/data/crowdsec.db, use_wal: true}
api:
  client: {credentials_path: $work/credentials.yaml}
  server: {log_level: warning, listen_uri: "127.0.0.1:$port", profiles_path: $work/config/profiles.yaml}
prometheus: {enabled: false}
YAML
cscli() { "$root/usr/bin/cscli" -c "$work/config.yaml" "$@"; }
cscli machines add -a -f "$work/credentials.yaml" >/dev/null 2>&1
"$root/usr/bin/crowdsec" -c "$work/config.yaml" -no-cs >"$work/lapi.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done
key=$(cscli bouncers add bench -o raw)
echo "$key" >"$work/key"
decisions() { # FIRST COUNT: a CSV of COUNT /32 decisions from the FIRST-th address of 10.0.0.0/8 on
    python3 -c "
import sys
first, count = int(sys.argv[1]), int(sys.argv[2])
print('duration,scope,value,reason')
for i in range(first, first + count):
    print(f'4h,ip,10.{i >> 16}.{(i >> 8) & 255}.{i & 255},bench/import')" "$1" "$2"
}
now() { date +%s.%N; }
seconds() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

decisions 1 "$n" >"$work/first.csv"
t0=$(now); cscli decisions import -i "$work/first.csv" >"$work/import.log" 2>&1 || { echo "run.sh: cscli decisions import failed:" >&2; tail -n 5 "$work/import.log" >&2; exit 1; }; t1=$(now)
echo "cscli decisions import, $n decisions: $(seconds "$t0" "$t1") s (CrowdSec's own cost, not Giftwrap's)"
t0=$(now); bytes=$(curl -s -H "X-Api-Key: $key" "http://127.0.0.1:$port/v1/decisions/stream?startup=true" | wc -c); t1=$(now)
echo "LAPI alone, full list ($bytes bytes): $(seconds "$t0" "$t1") s"
# Reset this bouncer's view: the curl above counted as its startup call.
cscli bouncers delete bench >/dev/null 2>&1; key=$(cscli bouncers add bench -o raw); echo "$key" >"$work/key"

printf 'ALL: ALL\n' >"$work/hosts.allow"; : >"$work/hosts.deny"
cat >"$work/giftwrap.conf" <<CONF
[tables]
allow = $work/hosts.allow
deny = $work/hosts.deny
[log]
syslog = off
[service:cat]
listen = 127.0.0.1:$gate
exec = /bin/cat
[bans]
store = $work/bans
[crowdsec]
lapi = http://127.0.0.1:$port
api_key_file = $work/key
poll = 1s
resync = 1m
timeout = 120s
CONF
if [ "$kernel" = yes ]; then
    printf '[kernel]\nnftables = yes\n[metrics]\nlisten = 127.0.0.1:%s\n' "$metrics" >>"$work/giftwrap.conf"
fi
# The gate's stderr goes to a file (a pipe nobody reads while the script polls would block it).
: >"$work/gate.log"
t0=$(now)
"${giftwrap[@]}" serve --config "$work/giftwrap.conf" 2>>"$work/gate.log" &
gate_pid=$!
pids+=($gate_pid)
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds; fails when the gate is gone or time is up
wait_for() {
    local limit=$1 t
    shift
    t=$(date +%s)
    until "$@"; do
        kill -0 "$gate_pid" 2>/dev/null || { echo "run.sh: the gate ended:" >&2; tail -n 20 "$work/gate.log" >&2; exit 1; }
        [ $(($(date +%s) - t)) -lt "$limit" ] || { echo "run.sh: not done after $limit s: $*" >&2; tail -n 20 "$work/gate.log" >&2; exit 1; }
        sleep 0.1
    done
}
in_force() { grep -q "crowdsec: $n decision(s) in force" "$work/gate.log"; }
elements() { curl -s "http://127.0.0.1:$metrics/metrics" | awk '/^giftwrap_kernel_elements/ { v = $2 } END { print v + 0 }'; }
kernel_has() { [ "$(elements)" -ge "$1" ]; }
set_count() { nft list set inet giftwrap a4 | tr ',{}' '\n\n\n' | grep -c '10\.' || true; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$gate_pid/stat"; }
# both ends timed as they are first seen: the store's "in force" line and, with the kernel set, the gauge
t_force="" t_kernel=""
[ "$kernel" = yes ] || t_kernel=none
both_seen() {
    [ -n "$t_force" ] || { in_force && t_force=$(now); }
    [ -n "$t_kernel" ] || { kernel_has "$n" && t_kernel=$(now); }
    [ -n "$t_force" ] && [ -n "$t_kernel" ]
}
wait_for 900 both_seen
c1=$(cpu)
echo "giftwrap serve started with $n decisions in the LAPI, to all enforced: $(seconds "$t0" "$t_force") s; the gate's CPU: $c1 s (start-up included)"
if [ "$kernel" = yes ]; then
    echo "  ... to all $n in the kernel set (gauge): $(seconds "$t0" "$t_kernel") s; nft list set inet giftwrap a4 (listed afterwards): $(set_count) elements"
fi
active=$("${giftwrap[@]}" bans --config "$work/giftwrap.conf" 2>/dev/null | grep -c 'crowdsec/' || true)
echo "  bans listed by giftwrap bans: $active"

decisions $((n + 1)) "$n" >"$work/second.csv"
mark=$(wc -l <"$work/gate.log")
added() { tail -n +$((mark + 1)) "$work/gate.log" | sed -n 's/.* \([0-9]*\) ban(s) added.*/\1/p' | awk '{ t += $1 } END { print t + 0 }'; }
all_added() { [ "$(added)" -ge "$n" ]; }
c2=$(cpu)
# The LAPI's SQLite can refuse the import's one big transaction while a bouncer's poll writes
# (crowdsec 1.4.6: "database is locked"); the transaction is then rolled back whole, so it is retried.
t0=$(now)
for try in 1 2 3 4 5; do
    cscli decisions import -i "$work/second.csv" >"$work/import.log" 2>&1 && break
    grep -q 'database is locked' "$work/import.log" && [ "$try" -lt 5 ] || { echo "run.sh: cscli decisions import failed:" >&2; tail -n 5 "$work/import.log" >&2; exit 1; }
    echo "  (import attempt $try: the LAPI's database was locked; retrying)"
done
t1=$(now)
wait_for 900 all_added
t2=$(now)
echo "a running gate following $n new decisions: import $(seconds "$t0" "$t1") s; from the import's end to the last ban enforced: $(seconds "$t1" "$t2") s; the gate's CPU meanwhile: $(seconds "$c2" "$(cpu)") s"
if [ "$kernel" = yes ]; then
    wait_for 900 kernel_has $((2 * n))
    t3=$(now)
    echo "  ... to all $((2 * n)) in the kernel set (gauge): $(seconds "$t1" "$t3") s from the import's end ($(seconds "$t0" "$t3") s from its start); the gate's CPU from the import's start: $(seconds "$c2" "$(cpu)") s; nft list set inet giftwrap a4 (listed afterwards): $(set_count) elements"
fi
# which path brought the deltas: the poll's "ban(s) added" lines, or the resync's "in force" line
echo "  the gate's crowdsec lines since the second import (first 5, last 3 of $(tail -n +$((mark + 1)) "$work/gate.log" | grep -c 'crowdsec:' || true)):"
tail -n +$((mark + 1)) "$work/gate.log" | grep 'crowdsec:' | head -n 5 | sed 's/^/    /'
tail -n +$((mark + 1)) "$work/gate.log" | grep 'crowdsec:' | tail -n 3 | sed 's/^/    /'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
