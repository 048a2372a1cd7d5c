#!/bin/sh
exec /usr/local/bin/powerconsul service web "$@" -S web -s nginx,php-fpm -F /var/lock/web.lock
