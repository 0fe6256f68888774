#!/usr/bin/env bash
# Test dependencies of the container tests (tests/containers.rs, the container cases of
# tests/faultbox_corpus.rs): a container engine, and the packages the test images are built
# from (tests/images/build.sh: nginx; PostgreSQL and Redis come with tests/services.sh); and
# MariaDB, the real server and client of the MySQL proxy's test
# (runtime/tests/container_mysql_proxy.rs); kcat, psql and python3 for the producer and
# consumer of the reference's Pattern 2 (tests/runs/pattern2); netavark and aardvark-dns for
# the run's bridge network (names resolve between containers).
#
# Debian's podman runs as root on this kind of machine (cgroup v1, no systemd, no
# CAP_SYS_RESOURCE) once its configuration says: cgroupfs instead of systemd, runc (crun refuses
# the hybrid cgroup layout), and no default ulimits (podman raises RLIMIT_NOFILE and NPROC above
# what the sandbox allows, and runc then fails with "error setting rlimit"). The file written is
# /etc/containers/containers.conf, and only when it is absent. Skipped when a Docker daemon
# answers already. Idempotent; never fails the caller.
set -u
say() { echo "tests/deps/podman.sh: $*"; }

missing=()
if ! command -v docker >/dev/null 2>&1 || ! timeout 10 docker version >/dev/null 2>&1; then
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v runc >/dev/null 2>&1 || missing+=(runc)
fi
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if command -v podman >/dev/null 2>&1 || [[ " ${missing[*]} " == *" podman "* ]]; then
    [ -x /usr/lib/podman/netavark ] || missing+=(netavark)
    [ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "no apt-get here; ${missing[*]} not installed (the container tests will skip)"
        exit 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "not root; ${missing[*]} not installed (the container tests will skip)"
        exit 0
    fi
    timeout 300 apt-get update -qq || say "apt-get update failed"
    if ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
        "${missing[@]}" >/dev/null; then
        say "installing ${missing[*]} failed; the container tests will skip"
        exit 0
    fi
    # The package starts nginx as a service where it can; the tests need port 80 free.
    if command -v nginx >/dev/null 2>&1; then
        timeout 10 nginx -s stop >/dev/null 2>&1 || true
    fi
fi

conf=/etc/containers/containers.conf
if command -v podman >/dev/null 2>&1 && [ ! -e "$conf" ] && [ "$(id -u)" -eq 0 ]; then
    mkdir -p /etc/containers
    cat >"$conf" <<'CONF'
# Written by ospecc's tests/deps/podman.sh: what rootful podman needs on a machine without
# systemd, with cgroup v1 and without CAP_SYS_RESOURCE.
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
CONF
    say "wrote $conf (cgroupfs, runc, no default ulimits)"
fi

exit 0
