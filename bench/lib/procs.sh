# procs.sh: the shell helpers the benchmarks under bench/ share (bench/gate/run.sh and
# two-generators.sh, bench/kernel/flood.sh, bench/compare/run.sh), sourced after the
# caller has set $work (its temporary directory) and defined die MESSAGE. Processes are started
# in the background and recorded in PID[NAME]; stop_all stops them by pid, never by name.
# Not here: what each benchmark starts and measures.

declare -A PID=()

# start NAME CMD...: runs CMD in the background, output in $work/NAME.{out,err}
start() {
    local name=$1
    shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    PID[$name]=$!
}
stop() {
    local name=$1
    [ -n "${PID[$name]:-}" ] || return 0
    kill "${PID[$name]}" 2>/dev/null || true
    wait "${PID[$name]}" 2>/dev/null || true
    unset "PID[$name]"
}
# stop_all: every process start recorded, by its pid (for the caller's EXIT trap)
stop_all() {
    local name
    for name in "${!PID[@]}"; do
        kill "${PID[$name]}" 2>/dev/null || true
    done
    for name in "${!PID[@]}"; do
        wait "${PID[$name]}" 2>/dev/null || true
    done
}
# listening PORT: true when something listens on 127.0.0.1:PORT (read from /proc, no connection made)
listening() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' /proc/net/tcp
}
# wait_listening PORT NAME [SECONDS]: until NAME listens on PORT (default 10 s); dies if NAME exits first
wait_listening() {
    local port=$1 name=$2 seconds=${3:-10} i
    for i in $(seq 1 $((seconds * 10))); do
        listening "$port" && return 0
        if [ -n "${PID[$name]:-}" ] && ! kill -0 "${PID[$name]}" 2>/dev/null; then
            cat "$work/$name.err" >&2
            die "$name exited before listening on $port"
        fi
        sleep 0.1
    done
    cat "$work/$name.err" >&2
    die "$name not listening on $port after $seconds s"
}
# kv KEY: the value of KEY=VALUE in the line on stdin
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -n1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# cpu_ticks PID: user+system time of the process, its threads and its reaped children
cpu_ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }
# rotated ROUND PEER...: the peers, starting at a different one each round and in reverse order
# every other round, so that no peer always runs first or follows the same one (the fork-heavy
# xinetd rows leave the machine slower for a moment)
rotated() {
    local round=$1
    shift
    local n=$# i j
    local -a all=("$@")
    for ((i = 0; i < n; i++)); do
        j=$(((i + round - 1) % n))
        [ $((round % 2)) -eq 0 ] && j=$((n - 1 - j))
        printf '%s\n' "${all[j]}"
    done
}
# rss_kib PID: resident memory of PID in KiB
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
