#!/usr/bin/env bash
# Builds the Debian packages giftwrap_VERSION_ARCH.deb with dpkg-deb from the NativeAOT
# programs (scripts/publish.sh): /usr/sbin/giftwrap and /usr/sbin/giftwrap-tcpd, the manual
# pages, the systemd units (installed, never enabled or started by the package), bash
# completion, /etc/giftwrap/giftwrap.conf as a conffile, the copyright and changelog Debian
# policy asks for, and maintainer scripts that create /var/lib/giftwrap (0750) on configure
# and remove it on purge only. No debhelper: the tree is laid out here, file by file.
#
#   scripts/deb.sh [--output DIR] [--arch ARCH[=BINARIES]] ...
#
# --output  where the .deb files go (default: artifacts/deb)
# --arch    amd64 or arm64; repeat for both. BINARIES is a directory with that architecture's
#           programs already published (else publish.sh builds them). Default: amd64, and
#           arm64 too when the cross toolchain (aarch64-linux-gnu-gcc) is installed.
# DEBFULLNAME, DEBEMAIL   the maintainer named in the package (Debian's usual variables)
# SOURCE_DATE_EPOCH       the date of the changelog entry and of every file (default: the
#                         last commit's), so that one commit builds the same bytes twice
set -euo pipefail

output=""
archs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --output) output="$2"; shift 2 ;;
        --output=*) output="${1#*=}"; shift ;;
        --arch) archs+=("$2"); shift 2 ;;
        --arch=*) archs+=("${1#*=}"); shift ;;
        -h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "deb.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -z "$output" ] || output=$(realpath -m -- "$output")
cd "$(dirname "$0")/.."
[ -n "$output" ] || output="$PWD/artifacts/deb"
if [ ${#archs[@]} -eq 0 ]; then
    archs=(amd64)
    if command -v aarch64-linux-gnu-gcc >/dev/null; then archs+=(arm64); fi
fi
for tool in dpkg-deb gzip readelf; do
    command -v "$tool" >/dev/null || { echo "deb.sh: $tool is needed (Debian's dpkg, gzip, binutils)" >&2; exit 1; }
done

version=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' src/Directory.Build.props)
maintainer="${DEBFULLNAME:-The Giftwrap developers} <${DEBEMAIL:-maintainers@giftwrap.invalid}>"
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The Debian packages a program's NEEDED libraries come from, and the lowest glibc its symbol
# versions allow (what dpkg-shlibdeps would find; it cannot read a cross-built binary's
# libraries, which are not installed as packages here). An unknown library stops the build:
# a Depends line that misses one installs a program that cannot start.
depends() {
    local libc="2.17" lib v others=()
    for binary in "$@"; do
        while read -r lib; do
            case "$lib" in
                libc.so.6|libm.so.6|libdl.so.2|libpthread.so.0|librt.so.1|ld-linux*) ;;
                libz.so.1) others+=("zlib1g (>= 1:1.2.3)") ;;
                libgcc_s.so.1) others+=("libgcc-s1") ;;
                libstdc++.so.6) others+=("libstdc++6") ;;
                *) echo "deb.sh: $binary needs $lib, which no Depends rule here names" >&2; exit 1 ;;
            esac
        done < <(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        for v in $(readelf -V "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV); do
            libc=$(printf '%s\n%s\n' "$libc" "$v" | sort -V | tail -1)
        done
    done
    { echo "libc6 (>= $libc)"; printf "%s\n" "${others[@]}"; } | grep . | sort -u | paste -sd, | sed "s/,/, /g"
}

# The programs' help text, for the completion script of an architecture this machine cannot run.
run_giftwrap() {
    local binary="$1" arch="$2"; shift 2
    if [ "$arch" = "$(dpkg --print-architecture)" ]; then
        "$binary" "$@"
    elif [ "$arch" = arm64 ] && command -v qemu-aarch64 >/dev/null; then
        qemu-aarch64 -L /usr/aarch64-linux-gnu "$binary" "$@"
    else
        return 1
    fi
}

build() {
    local arch="${1%%=*}" binaries="" rid objcopy tree deb
    [[ "$1" == *=* ]] && binaries=$(realpath -m -- "${1#*=}")
    case "$arch" in
        amd64) rid=linux-x64; objcopy=x86_64-linux-gnu-objcopy ;;
        arm64) rid=linux-arm64; objcopy=aarch64-linux-gnu-objcopy ;;
        *) echo "deb.sh: --arch $arch: amd64 or arm64" >&2; exit 2 ;;
    esac
    if [ -z "$binaries" ]; then
        binaries="$scratch/publish-$arch"
        scripts/publish.sh --rid "$rid" --output "$binaries"
    fi
    tree="$scratch/tree-$arch"
    rm -rf "$tree"
    mkdir -p "$tree/DEBIAN"

    # 1. The programs, in sbin: both are daemons or wrappers an administrator starts.
    install -d -m 0755 "$tree/usr/sbin"
    for name in giftwrap giftwrap-tcpd; do
        if [ ! -x "$binaries/$name" ]; then
            echo "deb.sh: $binaries/$name is missing (run scripts/publish.sh --rid $rid)" >&2
            exit 1
        fi
        install -m 0755 "$binaries/$name" "$tree/usr/sbin/$name"
        # The compiler's version notes are of no use at run time (dh_strip drops them too).
        "$objcopy" --remove-section=.comment "$tree/usr/sbin/$name"
    done

    # 2. Manual pages, gzipped with no name or time in the header (reproducible, as dh_compress does);
    #    giftwrap-tcpd is described in giftwrap(8), so its page is a link to that one.
    for source in docs/man/*.[1-8].md; do
        local page section date
        page=$(basename "$source" .md)
        section=${page##*.}
        date=$(git log -1 --format=%cs -- "$source" 2>/dev/null || true)
        install -d -m 0755 "$tree/usr/share/man/man$section"
        awk -v version="$version" -v date="${date:-$(date -u -d "@$epoch" +%Y-%m-%d)}" -f docs/man/md2man.awk "$source" \
            | gzip -9n >"$tree/usr/share/man/man$section/$page.gz"
    done
    ln -s giftwrap.8.gz "$tree/usr/share/man/man8/giftwrap-tcpd.8.gz"

    # 3. systemd units with the packaged program's path. Not enabled: that is the
    #    administrator's `systemctl enable --now giftwrap` once the configuration is theirs.
    install -d -m 0755 "$tree/usr/lib/systemd/system"
    for unit in examples/systemd/giftwrap.service examples/systemd/giftwrap.socket; do
        sed -e "s:/usr/local/bin/giftwrap:/usr/sbin/giftwrap:g" -e "s:scripts/install.sh installs it:the giftwrap package installs it:" \
            "$unit" >"$tree/usr/lib/systemd/system/$(basename "$unit")"
    done

    # 4. bash completion, from the program itself (under qemu for arm64 when it is there).
    install -d -m 0755 "$tree/usr/share/bash-completion/completions"
    if ! run_giftwrap "$tree/usr/sbin/giftwrap" "$arch" completion bash >"$tree/usr/share/bash-completion/completions/giftwrap" \
            || [ ! -s "$tree/usr/share/bash-completion/completions/giftwrap" ]; then
        if [ -s "$scratch/completion" ]; then
            cp "$scratch/completion" "$tree/usr/share/bash-completion/completions/giftwrap"
        else
            echo "deb.sh: cannot run the $arch giftwrap here for its completion script; build amd64 first or install qemu-user" >&2
            exit 1
        fi
    fi
    cp "$tree/usr/share/bash-completion/completions/giftwrap" "$scratch/completion"

    # 5. The configuration: the example with the system's tables, a conffile (dpkg keeps the
    #    administrator's changes on upgrade and asks before replacing them).
    install -d -m 0755 "$tree/etc/giftwrap"
    sed -e "s:= examples/hosts\.:= /etc/hosts.:" \
        -e "1s:.*:# giftwrap serve --config /etc/giftwrap/giftwrap.conf (see giftwrap.conf(5)):" \
        examples/giftwrap.conf >"$tree/etc/giftwrap/giftwrap.conf"
    echo /etc/giftwrap/giftwrap.conf >"$tree/DEBIAN/conffiles"

    # 5b. Fail2ban's action (`action = giftwrap` in a jail), with the packaged program's path; a
    #     conffile too. It sits in Fail2ban's own directory, where a jail finds it by name.
    install -d -m 0755 "$tree/etc/fail2ban/action.d"
    sed -e "s:^giftwrap = /usr/local/bin/giftwrap$:giftwrap = /usr/sbin/giftwrap:" \
        -e "s:^# Copy to /etc/fail2ban/action.d/giftwrap.conf.*:# Installed by the giftwrap package; a jail uses it with action = giftwrap.:" \
        examples/fail2ban/action.d/giftwrap.conf >"$tree/etc/fail2ban/action.d/giftwrap.conf"
    grep -q "^giftwrap = /usr/sbin/giftwrap$" "$tree/etc/fail2ban/action.d/giftwrap.conf"
    echo /etc/fail2ban/action.d/giftwrap.conf >>"$tree/DEBIAN/conffiles"

    # 6. copyright (machine-readable, DEP-5) and changelog, as policy 12.5 and 12.7 want.
    local doc="$tree/usr/share/doc/giftwrap"
    install -d -m 0755 "$doc"
    {
        echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        echo "Upstream-Name: giftwrap"
        echo "Source: https://github.com/giftwrap/giftwrap"
        echo
        echo "Files: *"
        echo "Copyright: $(sed -n 's/^Copyright (c) //p' LICENSE | head -1)"
        echo "License: Expat"
        echo
        echo "License: Expat"
        # The licence text after its title and copyright lines, blank lines as " ." (deb822).
        sed -n '/^Permission/,$p' LICENSE | sed -e 's/^$/./' -e 's/^/ /'
    } >"$doc/copyright"
    {
        echo "giftwrap ($version) unstable; urgency=medium"
        echo
        echo "  * Release $version, built from the repository with scripts/deb.sh."
        echo
        echo " -- $maintainer  $(date -u -R -d "@$epoch")"
    } | gzip -9n >"$doc/changelog.gz"

    # giftwrap carries the .NET runtime's own zlib (System.IO.Compression.Native, for the CrowdSec
    # bouncer's compressed HTTP answers), linked in statically by NativeAOT. Said to lintian here
    # rather than hidden: it is a fact of the build, not a copy kept by hand.
    install -d -m 0755 "$tree/usr/share/lintian/overrides"
    {
        echo "# NativeAOT links the .NET runtime's zlib into the program statically."
        echo "giftwrap: embedded-library zlib [usr/sbin/giftwrap]"
    } >"$tree/usr/share/lintian/overrides/giftwrap"

    # 7. Maintainer scripts. /var/lib/giftwrap holds the ban store: created on configure, kept on
    #    remove (bans outlive a reinstall), removed on purge only.
    cat >"$tree/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# giftwrap postinst: the ban store's directory (0750: the bans name clients, which is
# nobody else's business); the units are installed, not enabled.
set -e
if [ "$1" = configure ]; then
    install -d -m 0750 /var/lib/giftwrap
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
    fi
fi
exit 0
EOF
    cat >"$tree/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# giftwrap postrm: the ban store goes with a purge only; dpkg removes the conffile itself.
set -e
if [ "$1" = purge ]; then
    rm -rf /var/lib/giftwrap
    rmdir /etc/giftwrap 2>/dev/null || true
fi
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
exit 0
EOF
    chmod 0755 "$tree/DEBIAN/postinst" "$tree/DEBIAN/postrm"

    # 8. control, then the package. Files belong to root and carry the commit's time.
    local size
    size=$(du -sk --exclude=DEBIAN "$tree" | cut -f1)
    cat >"$tree/DEBIAN/control" <<EOF
Package: giftwrap
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $(depends "$tree/usr/sbin/giftwrap" "$tree/usr/sbin/giftwrap-tcpd")
Suggests: man-db
Section: net
Priority: optional
Homepage: https://github.com/giftwrap/giftwrap
Description: TCP Wrappers access control (hosts.allow, hosts.deny), rebuilt
 Giftwrap reads the hosts.allow and hosts.deny tables of tcp_wrappers and
 decides as libwrap does. It runs as a gate daemon in front of TCP services
 (forwarding to a backend or starting a program per connection), as a tcpd
 replacement for inetd (giftwrap-tcpd), and keeps bans that expire, persist
 and travel between hosts. The systemd units are installed but not enabled.
EOF
    # Conffiles are left out, as dh_md5sums does: dpkg keeps their sums itself.
    (cd "$tree" && find . \( -path ./DEBIAN -o -path ./etc \) -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$tree/DEBIAN/md5sums"
    find "$tree" -exec touch -h -d "@$epoch" {} +
    mkdir -p "$output"
    deb="$output/giftwrap_${version}_${arch}.deb"
    dpkg-deb --root-owner-group -Zxz --build "$tree" "$deb" >/dev/null
    echo "deb.sh: $deb"
}

for a in "${archs[@]}"; do
    build "$a"
done
