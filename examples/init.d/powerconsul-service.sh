#!/bin/sh
### BEGIN INIT INFO
# Provides:          web
# Required-Start:    $remote_fs $network consul
# Required-Stop:     $remote_fs $network consul
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: nginx and php-fpm, started and stopped by the web cluster's role
### END INIT INFO
# `service` runs this with an empty environment: the config and the agent are named here.
exec /usr/local/bin/powerconsul service web "$@" -S web -s nginx,php-fpm -F /run/powerconsul/web.lock --config /etc/powerconsul/config.json --http-addr 127.0.0.1:8500
