#!/usr/bin/env bash
# Times `giftwrap replay` over a 1,000,000-line decision log (about 216 MB, 3 daemons,
# addresses drawn from 10.0-20.x.x.x so most lines are distinct clients: the hard case).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build -c Release -v quiet -nologo "$repo/src/Giftwrap.Cli" >/dev/null
awk -v n=1000000 'BEGIN { srand(1); split("sshd in.ftpd smtp", d, " ");
  for (i = 0; i < n; i++)
    printf "{\"time\":\"2026-11-20T10:00:00Z\",\"daemon\":\"%s\",\"client\":\"10.%d.%d.%d\",\"client_name\":\"unknown\",\"user\":\"unknown\",\"server\":\"10.0.0.1\",\"server_port\":22,\"verdict\":\"granted\",\"match\":null,\"actions\":[]}\n",
      d[int(rand()*3)+1], int(rand()*21), int(rand()*256), int(rand()*254)+1 }' > "$work/decisions.jsonl"
printf 'sshd: 10.0.0.0/8\n' > "$work/cur.allow"
printf 'ALL: ALL\n' > "$work/cur.deny"
printf 'sshd: 10.0.0.0/8 EXCEPT 10.5.0.0/16\nin.ftpd: 10.1.\n' > "$work/new.allow"
echo "log: $(wc -l < "$work/decisions.jsonl") lines, $(du -h "$work/decisions.jsonl" | cut -f1)"
/usr/bin/time -f "replay: %e s elapsed, %M KB max RSS" \
  dotnet "$repo/src/Giftwrap.Cli/bin/Release/net10.0/giftwrap.dll" replay --log "$work/decisions.jsonl" \
  --allow "$work/new.allow" --deny "$work/cur.deny" --current-allow "$work/cur.allow" --current-deny "$work/cur.deny" | head -1
