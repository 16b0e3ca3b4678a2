# bench/lib/tcpd-bins.sh: the two NativeAOT programs the tcpd start-up benchmarks time, published into
# $work unless given: GIFTWRAP_TCPD_BIN (src/Giftwrap.Tcpd) and AOT_EMPTY_BIN (bench/gate/aot-empty, the
# runtime's floor). Sourced by bench/gate/tcpd-counts.sh and tcpd-time.sh, which define repo, here, work and die.

# tcpd_bins: sets GIFTWRAP_TCPD_BIN and AOT_EMPTY_BIN, publishing whichever is unset.
tcpd_bins() {
    if [ -z "${GIFTWRAP_TCPD_BIN:-}" ]; then
        dotnet publish "$repo/src/Giftwrap.Tcpd" -c Release -r linux-x64 -o "$work/giftwrap-tcpd" --nologo -v quiet >"$work/publish.log" 2>&1 ||
            { tail -n 30 "$work/publish.log" >&2; die "dotnet publish of src/Giftwrap.Tcpd failed"; }
        GIFTWRAP_TCPD_BIN=$work/giftwrap-tcpd/giftwrap-tcpd
    fi
    if [ -z "${AOT_EMPTY_BIN:-}" ]; then
        mkdir -p "$work/aot-empty-src"
        cp "$here/aot-empty/aot-empty.csproj" "$here/aot-empty/Program.cs" "$work/aot-empty-src/"
        (cd "$work/aot-empty-src" && dotnet publish -c Release -r linux-x64 -o "$work/aot-empty" --nologo -v quiet >"$work/aot.log" 2>&1) ||
            { tail -n 20 "$work/aot.log" >&2; die "dotnet publish of bench/gate/aot-empty failed"; }
        AOT_EMPTY_BIN=$work/aot-empty/aot-empty
    fi
}
