#!/usr/bin/env bash
# Runs every Giftwrap test on a fresh Debian machine: installs what the tests need
# (the real libwrap to compare against, gcc to build the harness, xinetd and socat
# for the tcpd-mode comparison, clang, lld and zlib1g-dev for the NativeAOT binary,
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user for the linux-arm64 one and its run,
# man-db to render the manual pages; nftables, iproute2, tftpd-hpa and tftp-hpa, haproxy and
# nginx-light, redis-sentinel, afl++, lintian and strace for the kernel, UDP, backend, failover,
# fuzzing and packaging tests; CrowdSec's binaries unpacked from Debian's package), builds the
# libwrap harness, runs all test projects, and ends with one line
# "N passed, N failed" totalled over every project.
set -uo pipefail
cd "$(dirname "$0")/.."

packages=(tcpd libwrap0-dev gcc xinetd socat redis-server systemd clang lld zlib1g-dev man-db git fail2ban python3
          gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user nftables iproute2 tftpd-hpa tftp-hpa
          haproxy nginx-light redis-sentinel afl++ lintian strace)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "test.sh: installing ${missing[*]}"
    $sudo apt-get update -qq
    # Servers the tests start themselves (redis, haproxy, nginx, sentinel) must not be started by
    # their packages: a policy-rc.d that refuses every start, only for the length of the install.
    policy=/usr/sbin/policy-rc.d
    placed=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && placed=yes
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    installed=$?
    [ -n "$placed" ] && $sudo rm -f "$policy"
    if [ "$installed" -ne 0 ]; then
        echo "test.sh: apt-get install ${missing[*]} failed" >&2
        exit 1
    fi
fi

# CrowdSec's package cannot be installed offline (its postinst registers with the central API):
# its two binaries are unpacked from Debian's .deb into a cache the CrowdSec tests find.
crowdsec_dir="${GIFTWRAP_CROWDSEC_DIR:-/var/cache/giftwrap-tests/crowdsec}"
if [ ! -x "$crowdsec_dir/usr/bin/crowdsec" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    fetched=$(mktemp -d)
    if (cd "$fetched" && apt-get download -qq crowdsec >/dev/null 2>&1); then
        $sudo mkdir -p "$crowdsec_dir" && $sudo dpkg-deb -x "$fetched"/crowdsec_*.deb "$crowdsec_dir"
    else
        echo "test.sh: apt-get download crowdsec failed; the CrowdSec tests will say so" >&2
    fi
    rm -rf "$fetched"
fi
export GIFTWRAP_CROWDSEC_DIR="$crowdsec_dir"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh tests/harness/build.sh "$work/wraptest" || exit 1
export GIFTWRAP_WRAPTEST="$work/wraptest"

dotnet build -c Release -nologo -v quiet Giftwrap.slnx || exit 1
log="$work/test.log"
dotnet test Giftwrap.slnx -c Release --no-build -nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=0
failed=0
while read -r p f; do
    passed=$((passed + p))
    failed=$((failed + f))
done < <(sed -n 's/.*Failed: *\([0-9]*\), *Passed: *\([0-9]*\),.*/\2 \1/p' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
fi
echo "$passed passed, $failed failed"
exit "$status"
