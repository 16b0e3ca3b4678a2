#!/bin/sh
# The return path for `transparent = yes` when the backend runs on the gate's own host (the usual
# case: sshd on 127.0.0.1:2222 behind a gate on port 22). The gate connects to the backend from the
# client's address; the backend's replies go to that address, and without this they would leave by
# the default route and never reach the gate. One policy rule sends the backend's own TCP replies
# (source address and port) to a table whose one route says "every address is local", so they are
# delivered to the gate's transparent socket. Nothing else on the host is routed differently.
#
#   routing.sh add|del BACKEND_ADDRESS BACKEND_PORT [TABLE]      (TABLE defaults to 231)
#
# Run it once after boot (a systemd ExecStartPre= of giftwrap.service, or your network scripts);
# `del` undoes it. IPv4 and IPv6 backends alike; for a backend on another host, make the gate the
# route back to the clients on that host instead (its default gateway), and use the same rule on
# the gate with the backend's address.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 add|del BACKEND_ADDRESS BACKEND_PORT [TABLE]" >&2; exit 2; }
action=$1 address=$2 port=$3 table=${4:-231}
case $action in add|del) ;; *) echo "$0: $action: expected add or del" >&2; exit 2 ;; esac
case $address in
    *:*) family=-6 everything=::/0 ;;
    *) family=-4 everything=0.0.0.0/0 ;;
esac
ip "$family" rule "$action" from "$address" ipproto tcp sport "$port" lookup "$table"
# One table serves several backends: add replaces its one route, del leaves it to the last rule.
if [ "$action" = add ]; then
    ip "$family" route replace local "$everything" dev lo table "$table"
elif ! ip "$family" rule show | grep -q "lookup $table\b"; then
    ip "$family" route del local "$everything" dev lo table "$table"
fi
