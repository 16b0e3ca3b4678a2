#!/usr/bin/env bash
# Runs Giftwrap's main job on the bundled example tables (examples/): checks them
# like tcpdchk, predicts one request like tcpdmatch, and decides a batch of requests.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release -v quiet -nologo src/Giftwrap.Cli >/dev/null
gw=(dotnet src/Giftwrap.Cli/bin/Release/net10.0/giftwrap.dll)
allow=examples/hosts.allow
deny=examples/hosts.deny

echo "== giftwrap check -v (tcpdchk)"
"${gw[@]}" check -v --allow "$allow" --deny "$deny" || true
echo
echo "== giftwrap match sshd 192.168.10.25 (tcpdmatch)"
"${gw[@]}" match --allow "$allow" --deny "$deny" sshd 192.168.10.25
echo
echo "== giftwrap match in.fingerd 198.51.100.50"
"${gw[@]}" match --allow "$allow" --deny "$deny" in.fingerd 198.51.100.50
echo
echo "== giftwrap match --batch < examples/requests.tsv"
"${gw[@]}" match --allow "$allow" --deny "$deny" --batch < examples/requests.tsv
