#!/bin/sh
# Entry point of local/redis:7, shaped like the official image's: arguments that start with "-"
# or a *.conf path are handed to redis-server. Protected mode is turned off first (a config file
# or later arguments may still turn it back on), because Debian's build enables it by default
# and the official image's build does not.
set -e

case "$1" in
    -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ]; then
    shift
    case "$1" in
        *.conf | -)
            conf=$1
            shift
            set -- redis-server "$conf" --protected-mode no "$@"
            ;;
        *) set -- redis-server --protected-mode no "$@" ;;
    esac
fi

exec "$@"
