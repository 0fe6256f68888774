#!/usr/bin/env bash
# Containers against processes (docs/performance.md § Containers), measured with `ospecc run`
# itself on the engine this machine has (Podman or Docker, OSPECC_ENGINE to choose) and the
# images tests/images/build.sh makes from this machine's packages:
#
# 1. start to healthy: nginx and redis-server (the same binaries and configuration) as a local
#    process and as a container; PostgreSQL as the users-api example runs it (a process on a
#    copy of a template cluster) and as the postgres image does (initdb at every start). Each
#    is a spec with one test run RUNS times (`--runs`): every run a full lifecycle. Reported
#    per service, medians: spawn to healthy (`service_ready.ms`), lifecycle start to healthy
#    (the engine's preparation included), and teardown (`service_stopped.ms`).
# 2. syscall-fault overhead: seccomp_bench's child (100,000 one-byte writes to /dev/null, timed
#    inside the child) as a process and in a container (the nginx test image with the bench and
#    its libraries mounted), without a filter, with `write` intercepted and no rule (CONTINUE),
#    and with a rule on another path (the fd's link is read, then CONTINUE): the setups of
#    bench/seccomp/run.sh's rows 1, 3 and 4, through a spec and the runtime's own supervisor.
#
#   bench/containers/run.sh             release builds, RUNS=5
#   bench/containers/run.sh --no-build  reuse target/release/{ospecc,examples/seccomp_bench}
#   PROFILE=debug RUNS=2 CALLS=20000 bench/containers/run.sh --no-build   a quick check
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RUNS="${RUNS:-5}"
CALLS="${CALLS:-100000}"
ENGINE="${OSPECC_ENGINE:-podman}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "${1:-}" != "--no-build" ]; then
  timeout 5400 cargo build --release -p ospecc --bin ospecc -p ospecc-runtime --example seccomp_bench
fi
PROFILE="${PROFILE:-release}"
OSPECC="$TARGET/$PROFILE/ospecc"
BENCH="$TARGET/$PROFILE/examples/seccomp_bench"
[ -x "$OSPECC" ] && [ -x "$BENCH" ] || { echo "missing release builds (run without --no-build)" >&2; exit 1; }
bash tests/images/build.sh "$ENGINE" >/dev/null || { echo "cannot build the test images" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/conf" "$work/traces" "$work/faults"
echo hello >"$work/www/index.html"
nginx_conf() { # USER PORT
  printf 'user %s;\nworker_processes 1;\nerror_log /dev/stderr notice;\npid %s;\nevents { worker_connections 64; }\nhttp { access_log off; client_body_temp_path %s/cb; proxy_temp_path %s/p; fastcgi_temp_path %s/f; uwsgi_temp_path %s/u; scgi_temp_path %s/s;\n  server { listen %s; location / { root %s; } } }\n' \
    "$1" "$3/nginx.pid" "$3" "$3" "$3" "$3" "$3" "$2" "$4"
}
nginx_conf www-data 42091 "$work" "$work/www" >"$work/conf/process.conf"
nginx_conf nginx 42092 /tmp /srv/www >"$work/conf/nginx.conf"
chmod -R a+rX "$work"

# One spec per service, so that "lifecycle start -> healthy" is that service's whole cost.
service_spec() { # NAME BODY
  printf '%s\n\ndef test_up():\n    pass\n' "$2" >"$work/start_$1.star"
}
service_spec web_process "service(\"web_process\", \"/usr/sbin/nginx\",
    interface(\"http\", \"http\", 42091),
    args = [\"-c\", \"$work/conf/process.conf\", \"-g\", \"daemon off;\"],
    healthcheck = http(\"localhost:42091/\", timeout = \"30s\"),
)"
service_spec web_container "service(\"web_container\",
    interface(\"http\", \"http\", 42092),
    image = \"nginx:1.27-alpine\",
    args = [\"/usr/sbin/nginx\", \"-c\", \"/etc/custom/nginx.conf\", \"-g\", \"daemon off;\"],
    volumes = {\"$work/conf\": \"/etc/custom\", \"$work/www\": \"/srv/www\"},
    healthcheck = http(\"localhost:42092/\", timeout = \"30s\"),
)"
service_spec cache_process "service(\"cache_process\", \"$(command -v redis-server)\",
    interface(\"main\", \"redis\", 42093),
    args = [\"--port\", \"42093\", \"--save\", \"\", \"--appendonly\", \"no\"],
    healthcheck = ready(),
)"
service_spec cache_container "service(\"cache_container\",
    interface(\"main\", \"redis\", 42094),
    image = \"redis:7-alpine\",
    args = [\"redis-server\", \"--port\", \"42094\", \"--save\", \"\", \"--appendonly\", \"no\"],
    healthcheck = ready(),
)"
service_spec db_process "service(\"db_process\", \"$ROOT/examples/users-api/scripts/postgres.sh\",
    interface(\"main\", \"postgres\", 42095),
    env = {\"PGPORT\": \"42095\", \"POSTGRES_USER\": \"app\", \"POSTGRES_PASSWORD\": \"app\", \"POSTGRES_DB\": \"app\", \"OSPECC_PG_FRESH\": \"1\"},
    healthcheck = ready(timeout = \"60s\"),
)"
service_spec db_container "service(\"db_container\",
    interface(\"main\", \"postgres\", 42096),
    image = \"postgres:16-alpine\",
    env = {\"PGPORT\": \"42096\", \"POSTGRES_USER\": \"app\", \"POSTGRES_PASSWORD\": \"app\", \"POSTGRES_DB\": \"app\"},
    healthcheck = ready(timeout = \"60s\"),
)"

echo "machine: $(uname -srm), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), engine $ENGINE"
for spec in "$work"/start_*.star; do
  name="$(basename "$spec" .star)"
  (cd "$work" && timeout 1800 "$OSPECC" run "$spec" --engine "$ENGINE" --runs "$RUNS" --out "$work/traces/$name" >/dev/null 2>&1) || true
done
python3 - "$work/traces" <<'PY'
import json, os, statistics, sys
ready, life, stop = {}, {}, {}
for spec in sorted(os.listdir(sys.argv[1])):
    for name in sorted(os.listdir(os.path.join(sys.argv[1], spec))):
        began = None
        for line in open(os.path.join(sys.argv[1], spec, name)):
            e = json.loads(line)
            if e["type"] == "lifecycle_started":
                began = e["at_ms"]
            elif e["type"] == "service_ready":
                ready.setdefault(e["service"], []).append(e["fields"]["ms"])
                life.setdefault(e["service"], []).append(e["at_ms"] - began)
            elif e["type"] == "service_stopped":
                stop.setdefault(e["service"], []).append(e["fields"]["ms"])
print("start to healthy, median ms: spawn -> healthy | lifecycle start -> healthy | teardown  (lifecycles)")
for s in sorted(ready):
    print("  %-16s %8.0f %8.0f %8.0f  (%d)" % (s, statistics.median(ready[s]), statistics.median(life[s]), statistics.median(stop.get(s, [0])), len(ready[s])))
PY

libs=""
for lib in $(ldd "$BENCH" | grep -o '/[^ ]*'); do
  case "$lib" in */libc.so.6 | */ld-linux*) ;; *) libs="$libs \"$lib\": \"$lib:ro\"," ;; esac
done
# The loop starts 2 s after the service, when the test body has installed its rule.
loop="sleep 2; /bench/seccomp_bench --child $CALLS; exec sleep 600"
tests='
def test_a_unfiltered():
    sleep("8s")

def test_b_intercepted_no_rule():
    fault(bench, other_write = deny("EIO"), run = lambda: None)
    sleep("12s")

def test_c_rule_on_another_path():
    fault(bench, other_write = deny("EIO"), run = lambda: sleep("12s"))
'
cat >"$work/faults_process.star" <<STAR
bench = service("bench_process", "/bin/sh",
    args = ["-c", "$(echo "$loop" | sed "s#/bench/seccomp_bench#$BENCH#")"],
    ops = {"other_write": op(syscalls = ["write"], path = "/nonexistent/*")},
)
$tests
STAR
cat >"$work/faults_container.star" <<STAR
bench = service("bench_container",
    image = "nginx:1.27-alpine",
    args = ["/bin/sh", "-c", "$loop"],
    volumes = {"$BENCH": "/bench/seccomp_bench:ro", "$(command -v sleep)": "/usr/local/bin/sleep:ro",$libs},
    ops = {"other_write": op(syscalls = ["write"], path = "/nonexistent/*")},
)
$tests
STAR
for variant in process container; do
  (cd "$work" && timeout 1800 "$OSPECC" run "faults_$variant.star" --engine "$ENGINE" --runs "$RUNS" --out "$work/faults/$variant" >/dev/null 2>&1) || true
done
python3 - "$work/faults" <<'PY'
import json, os, statistics, sys
ns = {}
for variant in sorted(os.listdir(sys.argv[1])):
    for name in sorted(os.listdir(os.path.join(sys.argv[1], variant))):
        test = None
        for line in open(os.path.join(sys.argv[1], variant, name)):
            e = json.loads(line)
            if e["type"] == "lifecycle_started":
                test = e["fields"]["test"]
            text = e["fields"].get("line", "") if e["type"] == "stdout" else ""
            if text.startswith("ns_per_call"):
                ns.setdefault((test, variant), []).append(float(text.split()[1]))
print("syscall-fault overhead, ns per one-byte write (median; runs):")
for (test, variant), values in sorted(ns.items()):
    print("  %-28s %-10s %8.0f  (%s)" % (test[5:], variant, statistics.median(values), ", ".join("%.0f" % v for v in values)))
PY
