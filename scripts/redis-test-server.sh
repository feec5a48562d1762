#!/bin/sh
# Redis for the ratelimit tests. The tests start their own redis-server from PATH when AIGW_REDIS_URL is unset,
# so CI only needs `install`; `start` and `stop` serve runs that want one server for several test binaries.
#
#   scripts/redis-test-server.sh install     install Debian's redis-server if it is missing (needs root)
#   scripts/redis-test-server.sh start DIR   start a server on a free loopback port, state in DIR;
#                                            prints AIGW_REDIS_URL=redis://127.0.0.1:PORT/0
#   scripts/redis-test-server.sh stop DIR    stop the server started in DIR
set -eu

cmd=${1:-}
case "$cmd" in
install)
	if command -v redis-server >/dev/null 2>&1; then
		exit 0
	fi
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "redis-server is missing: install it (Debian: apt-get install redis-server)" >&2
		exit 1
	fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
	;;
start)
	dir=${2:?usage: $0 start DIR}
	mkdir -p "$dir"
	port=6390
	while [ "$port" -lt 6490 ]; do
		if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
			redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
				--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
			i=0
			while [ "$i" -lt 50 ]; do
				if redis-cli -p "$port" ping >/dev/null 2>&1; then
					echo "AIGW_REDIS_URL=redis://127.0.0.1:$port/0"
					exit 0
				fi
				i=$((i + 1))
				sleep 0.1
			done
			echo "redis-server did not answer on port $port; see $dir/redis.log" >&2
			exit 1
		fi
		port=$((port + 1))
	done
	echo "no free port between 6390 and 6489" >&2
	exit 1
	;;
stop)
	dir=${2:?usage: $0 stop DIR}
	if [ -f "$dir/redis.pid" ]; then
		kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
		rm -f "$dir/redis.pid"
	fi
	;;
*)
	echo "usage: $0 install | start DIR | stop DIR" >&2
	exit 2
	;;
esac
