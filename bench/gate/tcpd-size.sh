#!/usr/bin/env bash
# tcpd-size.sh: what giftwrap-tcpd's binary makes ld.so and the runtime do at each start, from the build alone
# (docs/benchmarks.md, "giftwrap-tcpd's start, third round"): R_X86_64_RELATIVE relocations (applied by ld.so,
# each a write to a .data page), imported symbols (all bound at start under -z now), and from ILC's map the
# types and methods compiled and the types whose GC statics the runtime allocates at start. Load-independent;
# the instruction and fault counts are bench/gate/tcpd-counts.sh.
#
#   bench/gate/tcpd-size.sh          publish src/Giftwrap.Tcpd from the working tree with ILC's map and DGML
#                                    (the DGML, giftwrap-tcpd.scan.dgml.xml beside the map, says why each
#                                    method and type is in the binary)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
die() { printf 'tcpd-size.sh: %s\n' "$*" >&2; exit 1; }
command -v readelf >/dev/null || die "readelf is needed (binutils)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet publish "$repo/src/Giftwrap.Tcpd" -c Release -r linux-x64 -o "$work/out" --nologo -v quiet \
    -p:IlcGenerateMapFile=true -p:IlcGenerateDgmlFile=true >"$work/publish.log" 2>&1 ||
    { tail -n 30 "$work/publish.log" >&2; die "dotnet publish of src/Giftwrap.Tcpd failed"; }
bin=$work/out/giftwrap-tcpd
native=$repo/src/Giftwrap.Tcpd/obj/Release/net10.0/linux-x64/native
map=$native/giftwrap-tcpd.map.xml
[ -f "$map" ] || die "no ILC map at $map"

echo "| RELATIVE relocations | imported symbols | types compiled | methods compiled | types with GC statics | size, bytes |"
echo "|---:|---:|---:|---:|---:|---:|"
printf '| %s | %s | %s | %s | %s | %s |\n' \
    "$(readelf -rW "$bin" | grep -c R_X86_64_RELATIVE)" \
    "$(readelf --dyn-syms -W "$bin" | awk '$7 == "UND" && $8 != ""' | wc -l)" \
    "$(grep -c '<ConstructedEEType ' "$map")" \
    "$(grep -c '<MethodCode ' "$map")" \
    "$(grep -c '<GCStatics ' "$map")" \
    "$(stat -c %s "$bin")"
echo "ILC's map and dependency graph: $native/giftwrap-tcpd.map.xml, giftwrap-tcpd.scan.dgml.xml"
