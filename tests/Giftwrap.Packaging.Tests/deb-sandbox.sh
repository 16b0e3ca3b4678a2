#!/usr/bin/env bash
# Installs, removes and purges a giftwrap .deb with the machine's own dpkg, in a throw-away
# view of the machine: run under `unshare -m --propagation private`, it lays a writable
# overlay (its upper layer on a tmpfs of this mount namespace) over /usr, /etc and /var, so
# dpkg, its database, the maintainer scripts, man-db's trigger and systemd-analyze all see the
# real system and write only into memory that goes away with the namespace. The machine's
# /var/lib/dpkg, /usr and /etc are never written. A tmpfs over /run/systemd hides a running
# systemd from the maintainer scripts, so that they do not ask the host's to reload.
#
#   unshare -m --propagation private bash deb-sandbox.sh DEB RESULTS
#
# Each step's output goes to RESULTS/STEP.out and its exit status to RESULTS/STEP.rc; the
# test reads them. Any leftover giftwrap path of this machine (a store made by hand) is
# hidden first, so that "nothing left behind" compares against a clean start.
set -u
deb=$1
results=$2
mkdir -p "$results"
layers=$(mktemp -d)
mount -t tmpfs giftwrap-deb-sandbox "$layers" || exit 1
for dir in /usr /etc /var; do
    name=${dir#/}
    mkdir -p "$layers/$name.upper" "$layers/$name.work"
    mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layers/$name.upper,workdir=$layers/$name.work" "$dir" || exit 1
done
if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd || exit 1; fi

step() {
    local name=$1; shift
    "$@" >"$results/$name.out" 2>&1
    echo $? >"$results/$name.rc"
}
leftovers() {
    find /usr /etc /var/lib /var/cache/man /var/log -path '*giftwrap*' ! -path '/var/cache/giftwrap-tests*' 2>/dev/null | LC_ALL=C sort
}
# man-db keeps a formatted copy (a cat page) of what it shows at 80 columns only: at 100
# nothing of man's own is left in /var/cache/man to be mistaken for the package's.
export LC_ALL=C.UTF-8 MANWIDTH=100 MANPAGER=cat PAGER=cat

rm -rf /etc/giftwrap /var/lib/giftwrap
step before leftovers
step install dpkg -i "$deb"
step status-installed dpkg-query -W -f '${Status}' giftwrap
step version /usr/sbin/giftwrap --version
step tcpd-usage /usr/sbin/giftwrap-tcpd
step check-config /usr/sbin/giftwrap serve --check-config --config /etc/giftwrap/giftwrap.conf
step store-mode stat -c '%a %U:%G' /var/lib/giftwrap
step man man giftwrap
step man-tcpd man giftwrap-tcpd
step man-conf man 5 giftwrap.conf
step verify systemd-analyze verify /usr/lib/systemd/system/giftwrap.service /usr/lib/systemd/system/giftwrap.socket
step completion bash -c '. /usr/share/bash-completion/completions/giftwrap && complete -p giftwrap'
step enabled find /etc/systemd -name 'giftwrap*'
# The administrator's own change to the conffile, and a ban store with something in it.
echo '# changed by the administrator' >>/etc/giftwrap/giftwrap.conf
echo 'a ban' >/var/lib/giftwrap/kept
step remove dpkg -r giftwrap
step status-removed dpkg-query -W -f '${Status}' giftwrap
step after-remove leftovers
step conf-after-remove tail -n 1 /etc/giftwrap/giftwrap.conf
step purge dpkg -P giftwrap
step status-purged dpkg-query -W -f '${Status}' giftwrap
step after-purge leftovers
exit 0
