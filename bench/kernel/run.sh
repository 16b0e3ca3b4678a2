#!/usr/bin/env bash
# 100,000 bans into the kernel (issue 11), side by side in one run, inside a network namespace
# made for the run (unshare -n: the machine's own ruleset is never touched):
#   Giftwrap's kernel side writing the whole table in one `nft -f -`, its incremental path
#   (one BanMany of N bans reaching the kernel in batches), Fail2ban's nftables action style
#   (one `nft add element` process per ban, measured on SAMPLE bans and extrapolated), and a
#   bare `nft -f` of the same elements.
#
#   bench/kernel/run.sh            about 1-2 minutes on 2 shared cores
#
# Environment: BANS (default 100000), SAMPLE (1000), ROUNDS (3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build "$here/Giftwrap.Bench.Kernel.csproj" -c Release -nologo -v quiet >/dev/null
nft --version
uname -r
exec unshare --net -- dotnet "$here/bin/Release/net10.0/Giftwrap.Bench.Kernel.dll" "${BANS:-100000}" "${SAMPLE:-1000}" "${ROUNDS:-3}"
