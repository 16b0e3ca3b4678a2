#!/usr/bin/env bash
# Fuzzes one Giftwrap parser with AFL++ (Debian's afl++) through SharpFuzz for a given time:
#   scripts/fuzz.sh TARGET SECONDS [OUTDIR]
# TARGET is one of tables, config, dns, ident, bans, inetd (fuzz/Giftwrap.Fuzz/Harnesses.cs);
# the seeds are fuzz/corpus/TARGET. The harness is published into a scratch folder and the Giftwrap
# assemblies of that copy are instrumented with the sharpfuzz tool (SharpFuzz.CommandLine, installed
# into ~/.cache/giftwrap-fuzz on first use); nothing instrumented is written into the repository.
# afl-fuzz's findings go to OUTDIR (default /tmp/giftwrap-fuzz/TARGET); the script ends with one
# line of figures and exits 1 when afl saved a crash or a hang (replay one with
#   dotnet fuzz/Giftwrap.Fuzz/bin/Release/net10.0/Giftwrap.Fuzz.dll TARGET OUTDIR/default/crashes/id*).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
    echo "usage: scripts/fuzz.sh TARGET SECONDS [OUTDIR]" >&2
    exit 2
fi
target=$1
seconds=$2
out=${3:-/tmp/giftwrap-fuzz/$target}
[ -d "fuzz/corpus/$target" ] || { echo "fuzz.sh: no seed corpus fuzz/corpus/$target" >&2; exit 2; }
command -v afl-fuzz >/dev/null || { echo "fuzz.sh: afl-fuzz not found (apt-get install afl++)" >&2; exit 2; }

tools="${XDG_CACHE_HOME:-$HOME/.cache}/giftwrap-fuzz/tools"
mkdir -p "$tools"
flock "$tools/.lock" sh -c '[ -x "$1/sharpfuzz" ] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$1" >/dev/null' sh "$tools"

# One published copy per run: several targets can be fuzzed at once, each instrumenting its own.
# The builds of one tree share obj/ and bin/: one at a time (flock), the others wait.
app=$(mktemp -d "${TMPDIR:-/tmp}/giftwrap-fuzz-app.XXXXXX")
trap 'rm -rf "$app"' EXIT
mkdir -p fuzz/Giftwrap.Fuzz/obj
flock fuzz/Giftwrap.Fuzz/obj/.publish.lock dotnet publish fuzz/Giftwrap.Fuzz -c Release -nologo -v quiet -o "$app" >/dev/null
for assembly in Giftwrap.Core Giftwrap.Net Giftwrap.Bans Giftwrap.Bans.Redis Giftwrap.Gate; do
    "$tools/sharpfuzz" "$app/$assembly.dll" >/dev/null
done

rm -rf "$out"
mkdir -p "$out"
# The program is a .NET apphost that afl cannot see instrumented (SharpFuzz reports coverage itself);
# no CPU binding, as the machine may be shared with other runs; -t: a first .NET start is slow.
AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 \
AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_AUTORESUME=0 \
    afl-fuzz -i "fuzz/corpus/$target" -o "$out" -t 10000 -m none -V "$seconds" -- "$app/Giftwrap.Fuzz" "$target" \
    >"$out/afl.log" 2>&1 || { tail -30 "$out/afl.log" >&2; exit 1; }

stats="$out/default/fuzzer_stats"
value() { sed -n "s/^$1 *: *//p" "$stats"; }
crashes=$(value saved_crashes)
hangs=$(value saved_hangs)
echo "fuzz: $target: $(value run_time) s, $(value execs_done) execs, $(value corpus_count) paths in the corpus, $(value edges_found) edges, $crashes crashes, $hangs hangs ($out)"
[ "$crashes" = 0 ] && [ "$hangs" = 0 ]
