#!/usr/bin/env bash
# Builds the container images the container tests run, from this machine's own Debian packages
# (no registry needed): a root file system holding the host's nginx or PostgreSQL binaries, their
# shared libraries and a small configuration, imported with `ENGINE import` and tagged with the
# names the specs use (`nginx:1.27-alpine`, `postgres:16-alpine`, `redis:7-alpine`).
#
#   tests/images/build.sh ENGINE [IMAGE...]      IMAGE: nginx, postgres, redis (default: all)
#
# Each image carries the SHA-256 of its root file system as the label `ospecc.test.hash`: an
# image whose hash is unchanged is not imported again, so a test run builds each image once.
# Concurrent callers (test binaries run in parallel) serialise on a lock file. Prints
# `SKIP: <reason>` and exits 2 when an image cannot be built here (a package is missing).
set -uo pipefail

engine="${1:?usage: build.sh ENGINE [IMAGE...]}"
shift
images=("$@")
[ "${#images[@]}" -eq 0 ] && images=(nginx postgres redis)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

skip() { echo "SKIP: $*"; exit 2; }

exec 9>"${TMPDIR:-/tmp}/ospecc-test-images.lock"
timeout 600 flock 9 || skip "another build of the test images holds the lock for 10 minutes"

# add_file ROOT PATH...: copies each file to the same path under ROOT (following links).
add_file() {
  local root="$1" path
  shift
  for path in "$@"; do
    mkdir -p "$root$(dirname "$path")"
    cp -L "$path" "$root$path" || return 1
  done
}

# add_binary ROOT PATH...: each binary and every shared library it loads (from ldd).
add_binary() {
  local root="$1" path lib
  shift
  for path in "$@"; do
    [ -f "$path" ] || { echo "$path is missing"; return 1; }
    add_file "$root" "$path" || return 1
    for lib in $(ldd "$path" 2>/dev/null | grep -o '/[^ ]*'); do
      [ -e "$root$lib" ] || add_file "$root" "$lib" || return 1
    done
  done
}

# import ROOT TAG CHANGE...: imports ROOT as TAG unless an image of that tag has the same hash.
import() {
  local root="$1" tag="$2" tar hash have
  shift 2
  tar="$(mktemp)"
  # Fixed owners, order and times: the same files always make the same tar (and hash).
  tar --sort=name --mtime=@0 --numeric-owner -C "$root" -cf "$tar" . || { rm -f "$tar"; return 1; }
  hash="$( (sha256sum <"$tar"; printf '%s\n' "$@") | sha256sum | cut -c1-64)"
  have="$("$engine" image inspect --format '{{index .Config.Labels "ospecc.test.hash"}}' "$tag" 2>/dev/null)"
  if [ "$have" = "$hash" ]; then
    rm -f "$tar"
    echo "image $tag: up to date"
    return 0
  fi
  local changes=(--change "LABEL ospecc.test.hash=$hash")
  local change
  for change in "$@"; do changes+=(--change "$change"); done
  if ! timeout 300 "$engine" import "${changes[@]}" "$tar" "$tag" >"$tar.log" 2>&1; then
    cat "$tar.log"
    rm -f "$tar.log"
    rm -f "$tar"
    return 1
  fi
  rm -f "$tar" "$tar.log"
  echo "image $tag: built ($hash)"
}

base_root() {
  local root="$1"
  mkdir -p "$root"/{etc,tmp,run,dev,proc,sys,var/tmp}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  add_binary "$root" /bin/sh || return 1
  printf 'root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/nonexistent:/bin/false\npostgres:x:70:70:postgres:/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnginx:x:101:\npostgres:x:70:\nnogroup:x:65534:\n' >"$root/etc/group"
}

build_nginx() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { echo "nginx is not installed"; return 1; }
  local root="$work/nginx"
  base_root "$root" || return 1
  add_binary "$root" /usr/sbin/nginx || return 1
  mkdir -p "$root"/etc/nginx "$root"/var/log/nginx "$root"/var/lib/nginx "$root"/var/cache/nginx "$root"/usr/share/nginx/html
  cp /etc/nginx/mime.types "$root/etc/nginx/"
  cp "$here/nginx/nginx.conf" "$root/etc/nginx/nginx.conf"
  cp "$here/nginx/index.html" "$root/usr/share/nginx/html/index.html"
  import "$root" docker.io/library/nginx:1.27-alpine \
    'ENTRYPOINT []' 'CMD ["/usr/sbin/nginx", "-g", "daemon off;"]' 'EXPOSE 80' 'STOPSIGNAL SIGQUIT'
}

build_postgres() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$bin" ] && [ -x "$bin/postgres" ] && [ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed"; return 1; }
  local version lib share root="$work/postgres"
  version="$(basename "$(dirname "$bin")")"
  lib="/usr/lib/postgresql/$version/lib"
  share="/usr/share/postgresql/$version"
  base_root "$root" || return 1
  add_binary "$root" "$bin/postgres" "$bin/initdb" "$bin/pg_ctl" /bin/rm /usr/bin/locale || return 1
  # The extensions initdb and a plain server load; the JIT (LLVM, 100 MB) stays out.
  local so
  for so in "$lib"/*.so; do
    case "$(basename "$so")" in llvmjit*) continue ;; esac
    add_binary "$root" "$so" || return 1
  done
  mkdir -p "$root$share"
  cp -r "$share"/. "$root$share"/
  add_file "$root" /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Etc/UTC || return 1
  mkdir -p "$root/usr/local/bin" "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
  for b in postgres initdb pg_ctl; do ln -sf "$bin/$b" "$root/usr/local/bin/$b"; done
  cp "$here/postgres/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  chown -R 70:70 "$root/var/lib/postgresql" "$root/var/run/postgresql"
  chmod 700 "$root/var/lib/postgresql/data"
  import "$root" docker.io/library/postgres:16-alpine \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["postgres"]' 'USER postgres' \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'ENV PGDATA=/var/lib/postgresql/data' 'ENV TZ=UTC' 'ENV LANG=C' \
    'EXPOSE 5432' 'STOPSIGNAL SIGINT'
}

build_redis() {
  command -v redis-server >/dev/null 2>&1 || { echo "redis-server is not installed"; return 1; }
  local root="$work/redis"
  base_root "$root" || return 1
  add_binary "$root" "$(command -v redis-server)" || return 1
  mkdir -p "$root/data"
  chown 999:999 "$root/data"
  printf 'redis:x:999:999:redis:/data:/bin/false\n' >>"$root/etc/passwd"
  printf 'redis:x:999:\n' >>"$root/etc/group"
  mkdir -p "$root/usr/local/bin"
  cp "$here/redis/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  # As the official image: any command line without a configuration file runs without
  # protected mode (the entrypoint adds it), so published ports answer the host.
  import "$root" docker.io/library/redis:7-alpine \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["redis-server"]' 'USER redis' \
    'WORKDIR /data' 'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'EXPOSE 6379'
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for image in "${images[@]}"; do
  case "$image" in
    nginx | postgres | redis) ;;
    *) echo "build.sh: unknown image '$image' (nginx, postgres, redis)"; exit 1 ;;
  esac
  if ! why="$("build_$image" 2>&1)"; then
    echo "SKIP: cannot build the $image test image: $why"
    status=2
  else
    echo "$why"
  fi
done
exit "$status"
