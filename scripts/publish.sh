#!/usr/bin/env bash
# Builds Giftwrap's programs as self-contained NativeAOT binaries for Linux (one file each,
# no .NET runtime needed on the target) into one directory. Needs Debian's clang, lld and
# zlib1g-dev next to the .NET SDK, and for --rid linux-arm64 on x86-64 also gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross (the cross linker and C library); installing them is left to the caller
# (scripts/test.sh does).
#
#   scripts/publish.sh [--output DIR] [--rid RID] [--list]
#
# --output  where the binaries go (default: artifacts/publish/RID)
# --rid     the runtime identifier (default: linux-x64)
# --list    print the names of the programs this script builds, one a line, and stop
set -euo pipefail
# The programs: project folder and the binary it produces. A program whose project is
# not in this tree is skipped, so a line may name one that is still being written.
programs=(
    "src/Giftwrap.Cli giftwrap"
    "src/Giftwrap.Tcpd giftwrap-tcpd"
)

rid=linux-x64
output=""
list=0
while [ $# -gt 0 ]; do
    case "$1" in
        --output) output="$2"; shift 2 ;;
        --output=*) output="${1#*=}"; shift ;;
        --rid) rid="$2"; shift 2 ;;
        --rid=*) rid="${1#*=}"; shift ;;
        --list) list=1; shift ;;
        -h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "publish.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
# A relative --output is relative to where the script was started, not to the repository.
[ -z "$output" ] || output=$(realpath -m -- "$output")
cd "$(dirname "$0")/.."
[ -n "$output" ] || output="$PWD/artifacts/publish/$rid"

for entry in "${programs[@]}"; do
    read -r project name <<<"$entry"
    [ -d "$project" ] || continue
    if [ "$list" -eq 1 ]; then
        echo "$name"
        continue
    fi
    # Each program publishes into its own folder: the publish folder also holds the
    # referenced projects' symbols, and only the binary is wanted.
    stage=$(mktemp -d)
    echo "publish.sh: $name ($project, $rid, NativeAOT)"
    if ! dotnet publish "$project" -c Release -r "$rid" -p:PublishAot=true -p:SelfContained=true \
            -nologo -v quiet -o "$stage" >"$stage.log" 2>&1; then
        cat "$stage.log" >&2
        rm -rf "$stage" "$stage.log"
        echo "publish.sh: publishing $name failed" >&2
        exit 1
    fi
    mkdir -p "$output"
    install -m 0755 "$stage/$name" "$output/$name"
    rm -rf "$stage" "$stage.log"
    echo "publish.sh: $output/$name"
done
