#!/usr/bin/env bash
# Live tables' decisions per second from 1, 2 and 8 threads, for this tree and, given a second
# checkout's src/ folder, for that one too, alternately (the same program built against each).
#
#   bench/tables/run.sh [OTHER_SRC_DIR] [SECONDS] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
other=${1:-}
seconds=${2:-3}
rounds=${3:-3}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dotnet build "$here/LiveDecide.csproj" -c Release -nologo -v quiet -o "$out/this" >/dev/null
if [ -n "$other" ]; then
    # A copy of this folder, so that the two builds keep apart their intermediate files.
    mkdir "$out/bench" && cp "$here/LiveDecide.csproj" "$here/Program.cs" "$out/bench/"
    dotnet build "$out/bench/LiveDecide.csproj" -c Release -nologo -v quiet -o "$out/other" -p:GiftwrapSrc="$(cd "$other" && pwd)" >/dev/null
fi
for r in $(seq "$rounds"); do
    echo "round $r, this tree:"; dotnet "$out/this/LiveDecide.dll" "$seconds"
    if [ -n "$other" ]; then echo "round $r, $other:"; dotnet "$out/other/LiveDecide.dll" "$seconds"; fi
done
