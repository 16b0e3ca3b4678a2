#!/usr/bin/env bash
# Installs Giftwrap on a Linux host: the NativeAOT programs (scripts/publish.sh), the manual
# pages giftwrap(8) and giftwrap.conf(5) made from docs/man/*.md, the systemd units, bash
# completion when the binary offers it, and the default paths /etc/giftwrap and /var/lib/giftwrap.
# It never overwrites an existing /etc/giftwrap/giftwrap.conf, and enables or starts nothing:
# `systemctl enable --now giftwrap` is the administrator's decision.
#
#   scripts/install.sh [--root DIR] [--prefix PREFIX] [--unitdir DIR]
#
# --root     install into DIR as if it were / (packaging, containers, tests); default: /
# --prefix   where programs, pages and completion go under the root; default: /usr/local
# --unitdir  where the units go; default: PREFIX/lib/systemd/system for /usr and /usr/local
#            (systemd reads both), /etc/systemd/system for any other prefix
# GIFTWRAP_BINARIES=DIR   take the programs already published in DIR instead of publishing
set -euo pipefail

root=""
prefix=/usr/local
unitdir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root="$2"; shift 2 ;;
        --root=*) root="${1#*=}"; shift ;;
        --prefix) prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#*=}"; shift ;;
        --unitdir) unitdir="$2"; shift 2 ;;
        --unitdir=*) unitdir="${1#*=}"; shift ;;
        -h|--help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be an absolute path" >&2; exit 2 ;; esac
[ -z "$root" ] || root=$(realpath -m -- "$root")
root=${root%/}
prefix=${prefix%/}
if [ -z "$unitdir" ]; then
    case "$prefix" in
        /usr|/usr/local) unitdir="$prefix/lib/systemd/system" ;;
        *) unitdir=/etc/systemd/system ;;
    esac
fi
bin="$root$prefix/bin"
GIFTWRAP_BINARIES=${GIFTWRAP_BINARIES:+$(realpath -m -- "$GIFTWRAP_BINARIES")}
cd "$(dirname "$0")/.."

# 1. The programs: those publish.sh builds, published now unless handed over ready.
binaries=${GIFTWRAP_BINARIES:-}
if [ -z "$binaries" ]; then
    binaries=$(mktemp -d)
    trap 'rm -rf "$binaries"' EXIT
    scripts/publish.sh --output "$binaries"
fi
mkdir -p "$bin"
while read -r name; do
    if [ ! -x "$binaries/$name" ]; then
        echo "install.sh: $binaries/$name is missing (run scripts/publish.sh)" >&2
        exit 1
    fi
    install -m 0755 "$binaries/$name" "$bin/$name"
    echo "install.sh: $bin/$name"
done < <(scripts/publish.sh --list)

# 2. Manual pages, made from their Markdown sources with the version of the packages.
version=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' src/Directory.Build.props)
for source in docs/man/*.[1-8].md; do
    page=$(basename "$source" .md)
    section=${page##*.}
    mkdir -p "$root$prefix/share/man/man$section"
    # The page's date is that of its last change, so that a rebuild of one commit is identical.
    date=$(git log -1 --format=%cs -- "$source" 2>/dev/null || true)
    awk -v version="$version" -v date="${date:-$(date -u +%Y-%m-%d)}" -f docs/man/md2man.awk "$source" \
        >"$root$prefix/share/man/man$section/$page"
    chmod 0644 "$root$prefix/share/man/man$section/$page"
    echo "install.sh: $root$prefix/share/man/man$section/$page"
done

# 3. systemd units for the gate, with the installed program's path. The tcpd-mode units
#    (finger.socket, finger@.service) are examples to adapt, not units to run: they go
#    with the other examples.
mkdir -p "$root$unitdir"
for unit in examples/systemd/giftwrap.*; do
    sed "s:/usr/local/bin/giftwrap:$prefix/bin/giftwrap:g" "$unit" >"$root$unitdir/$(basename "$unit")"
    chmod 0644 "$root$unitdir/$(basename "$unit")"
    echo "install.sh: $root$unitdir/$(basename "$unit")"
done
examples="$root$prefix/share/doc/giftwrap/examples"
mkdir -p "$examples/systemd"
for example in examples/systemd/*; do
    sed "s:/usr/local/bin/giftwrap:$prefix/bin/giftwrap:g" "$example" >"$examples/systemd/$(basename "$example")"
done
install -m 0644 examples/giftwrap.conf examples/hosts.allow examples/hosts.deny examples/inetd.conf "$examples/"
mkdir -p "$examples/transparent"
install -m 0755 examples/transparent/routing.sh "$examples/transparent/"

# 4. Default paths. The configuration is written only when there is none: an
#    administrator's file is never replaced. The example's tables are relative to the
#    repository; installed, they are the system's.
install -d -m 0755 "$root/etc/giftwrap"
install -d -m 0750 "$root/var/lib/giftwrap"
if [ -e "$root/etc/giftwrap/giftwrap.conf" ]; then
    echo "install.sh: $root/etc/giftwrap/giftwrap.conf exists: kept as it is"
else
    sed -e "s:= examples/hosts\.:= /etc/hosts.:" \
        -e "1s:.*:# giftwrap serve --config /etc/giftwrap/giftwrap.conf (see giftwrap.conf(5)):" \
        examples/giftwrap.conf >"$root/etc/giftwrap/giftwrap.conf"
    chmod 0644 "$root/etc/giftwrap/giftwrap.conf"
    echo "install.sh: $root/etc/giftwrap/giftwrap.conf"
fi

# 5. bash completion, when the installed program can write it (`giftwrap completion bash`).
#    A binary for another machine cannot run here; then there is none.
completion=$(mktemp)
if "$bin/giftwrap" completion bash >"$completion" 2>/dev/null && [ -s "$completion" ]; then
    install -D -m 0644 "$completion" "$root$prefix/share/bash-completion/completions/giftwrap"
    echo "install.sh: $root$prefix/share/bash-completion/completions/giftwrap"
fi
rm -f "$completion"
