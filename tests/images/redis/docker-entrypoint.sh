#!/bin/sh
# What a spec relies on from the official redis image's entrypoint: options alone (`--port N`)
# run redis-server with them, and redis-server started without a configuration file runs with
# protected mode off, so that clients reaching its published port from outside the container
# (the host, through the engine's port forwarding) are answered, not refused.
case "$1" in
  -*) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ] && [ ! -f "${2:-}" ]; then
  set -- "$@" --protected-mode no
fi
exec "$@"
