#!/usr/bin/env bash
# tcpd-counts.sh: load-independent counts of one start of libwrap's tcpd, giftwrap-tcpd and an empty
# NativeAOT program, each with a real accepted TCP socket on fds 0-2 (docs/benchmarks.md, "giftwrap-tcpd's
# start, second round"). Counts, not times, so it can run on a busy machine; the wall-clock comparison
# is bench/gate/tcpd-time.sh, for a quiet one.
#
#   bench/gate/tcpd-counts.sh                  publish giftwrap-tcpd and bench/gate/aot-empty from the working tree
#   GIFTWRAP_TCPD_BIN=path bench/gate/tcpd-counts.sh [LABEL=path ...]   use that binary (and more to compare)
#
# Per program:
#   instructions to exec: valgrind --tool=callgrind --dump-before='execv*': everything up to the execve()
#                         of the daemon (for aot-empty, up to its exit)
#   page faults:          perf stat -e page-faults, median of FAULT_RUNS (15) runs; the tiny static exec
#                         wrapper and /bin/true's own exec are included (about 70 of them)
#   system calls:         strace -f -c, total (wrapper and /bin/true included)
#   size:                 bytes on disk
# For the faults and system calls a static wrapper (execas) runs each program with the argv[0] inetd gives
# it, so libwrap's tcpd sees /bin/true as its daemon (callgrind gets argv[0] from PATH instead, below). Both tcpds read /etc/hosts.allow and /etc/hosts.deny (empty here: allowed).
# Environment: FAULT_RUNS (15), AOT_EMPTY_BIN (skip its publish).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${FAULT_RUNS:-15}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

die() { printf 'tcpd-counts.sh: %s\n' "$*" >&2; exit 1; }
for tool in valgrind perf strace gcc; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done
[ -x /usr/sbin/tcpd ] || die "libwrap's /usr/sbin/tcpd is needed (Debian package tcpd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$here/../lib/procs.sh"

gcc -O2 -o "$work/execbench" "$here/execbench.c"
# execas PATH ARGV0 [ARGS...]: execv(PATH, ARGV0 ARGS...); static, so it adds almost nothing to the counts
printf '#include <unistd.h>\nint main(int c, char **v) { if (c < 3) return 2; execv(v[1], v + 2); return 127; }\n' >"$work/execas.c"
gcc -O2 -static -o "$work/execas" "$work/execas.c"

# shellcheck source=../lib/tcpd-bins.sh
. "$here/../lib/tcpd-bins.sh"
tcpd_bins

# programs: LABEL PATH ARGV0 ARGS (one per line, | separated)
programs=("tcpd|/usr/sbin/tcpd|/bin/true" "aot-empty|$AOT_EMPTY_BIN|aot-empty" "giftwrap-tcpd|$GIFTWRAP_TCPD_BIN|giftwrap-tcpd|/bin/true")
for extra in "$@"; do
    programs+=("${extra%%=*}|${extra#*=}|giftwrap-tcpd|/bin/true")
done

# on_socket CMD...: CMD with the accepted end of a loopback connection on fds 0-2 (execbench, one run)
on_socket() { "$work/execbench" 1 :: run "$@" >"$work/execbench.out"; }

echo "| program | instructions to exec | page faults (median of $runs) | system calls | size, bytes |"
echo "|---|---:|---:|---:|---:|"
for p in "${programs[@]}"; do
    IFS='|' read -r label path argv <<<"$p"
    read -r -a args <<<"${argv//|/ }"
    rm -rf "$work"/cg.* "$work/path"
    # valgrind gives its program the argv[0] it was found by: a name looked up in PATH (a symlink named
    # like the daemon) gives tcpd a daemon without a slash, which it looks up in /usr/sbin. callgrind follows
    # no exec; the daemon then runs natively (nologin for tcpd: an exec that succeeds from /usr/sbin).
    mkdir -p "$work/path"
    if [ "$label" = tcpd ]; then
        ln -s "$path" "$work/path/nologin"
        vg=(nologin)
    else
        # a copy, without the .dbg file beside it: valgrind 3.19 gives up on the DWARF 5 that ILC writes there
        cp "$path" "$work/path/${args[0]}"
        vg=("${args[@]}")
    fi
    PATH=$work/path:$PATH on_socket /usr/bin/valgrind valgrind --tool=callgrind --dump-before='execv*' \
        --callgrind-out-file="$work/cg.%p" --log-file="$work/vg.log" "${vg[@]}"
    # the dump before execve() (cg.PID.1), or for a program that does not exec the one at its exit (cg.PID)
    dump=$(ls "$work"/cg.*.1 2>/dev/null | head -n1 || true)
    [ -n "$dump" ] || dump=$(ls "$work"/cg.* | head -n1)
    ir=$(sed -n 's/^summary: //p' "$dump")
    faults=()
    for _ in $(seq 1 "$runs"); do
        on_socket /usr/bin/perf perf stat -x, -o "$work/perf.out" -e page-faults "$work/execas" "$path" "${args[@]}"
        faults+=("$(awk -F, '/page-faults/ { print $1 }' "$work/perf.out")")
    done
    on_socket /usr/bin/strace strace -f -c -o "$work/strace.out" "$work/execas" "$path" "${args[@]}"
    calls=$(awk '$NF == "total" { print $4 }' "$work/strace.out")
    printf '| %s | %s | %s | %s | %s |\n' "$label" "$ir" "$(printf '%s\n' "${faults[@]}" | median)" "$calls" "$(stat -L -c %s "$path")"
done
