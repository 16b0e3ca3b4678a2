#!/bin/sh
# Build the libwrap differential-test oracle.
#   usage: tests/harness/build.sh OUTPUT_PATH
# Needs gcc and Debian's libwrap0-dev (tcpd.h, libwrap.so); install with
#   apt-get install -y gcc libwrap0-dev tcpd
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTPUT_PATH" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-gcc}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "build.sh: C compiler '$cc' not found (apt-get install -y gcc)" >&2
    exit 1
fi
if ! printf '#include <tcpd.h>\n' | "$cc" -E -x c - >/dev/null 2>&1; then
    echo "build.sh: tcpd.h not found (apt-get install -y libwrap0-dev)" >&2
    exit 1
fi

# The harness defines syslog()/vsyslog()/__syslog_chk()/__vsyslog_chk() and
# execl() to capture libwrap's messages and twist; -rdynamic makes sure the
# shared libwrap binds to those definitions instead of libc's.
"$cc" -O2 -Wall -Wextra -rdynamic -o "$out" "$here/wraptest.c" -lwrap
echo "build.sh: built $out" >&2
