#!/bin/sh
# Builds the libwrap peer benchmark. Needs gcc and Debian's libwrap0-dev.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-gcc}
"$cc" -O2 -Wall -Wextra -o "$here/bench_hosts_access" "$here/bench_hosts_access.c" -lwrap
echo "built $here/bench_hosts_access"
