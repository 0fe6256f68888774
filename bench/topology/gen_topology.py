#!/usr/bin/env python3
"""Generates Faultbox topology files (`*.star`) for the topology benchmark.

Usage: gen_topology.py OUT_DIR [--count N] [--seed S]

Each file is about 100 lines, the shape of a real system spec: 5 services with interfaces,
`depends_on`, healthchecks and `env` built from `.addr`/`.internal_addr`; 4 fault assumptions
(syscall and protocol level); 4 named scenario functions; a 4x4 `fault_matrix` with a default
expectation and named `expect` callables in `overrides`; and `test_*` functions calling step
methods with assertions. Names, ports, paths and values vary with the seed, so no two files
are alike. Every file checks clean (no errors, no warnings).
"""
import argparse
import os
import random

ROLES = ["gateway", "orders", "billing", "users", "catalog", "search", "inventory", "shipping"]
PATHS = ["/items", "/orders", "/users", "/carts", "/payments", "/products", "/quotes"]
ERRNOS = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EIO", "ENOSPC"]


def generate(rng, index):
    api_a, api_b = rng.sample(ROLES, 2)
    base = 8000 + (index % 900)
    path_a, path_b = rng.sample(PATHS, 2)
    delay = rng.choice(["200ms", "500ms", "1s", "2s"])
    errno = rng.choice(ERRNOS)
    limit = rng.choice([1000, 2000, 3000, 5000])
    return f'''# Generated topology {index}: {api_a} and {api_b} over postgres, redis and kafka.

db = service("db",
    interface("pg", "postgres", 5432),
    image="postgres:16",
    env={{"POSTGRES_PASSWORD": "secret{index}", "POSTGRES_DB": "app{index}"}},
    healthcheck=ready(),
)

cache = service("cache",
    interface("main", "redis", 6379),
    image="redis:7",
    healthcheck=ready(),
)

bus = service("bus",
    interface("broker", "kafka", 9092),
    image="apache/kafka:3.7.0",
    healthcheck=ready(),
)

{api_b} = service("{api_b}",
    interface("http", "http", {base + 1}),
    binary="./bin/{api_b}",
    env={{
        "DB_ADDR": db.pg.addr,
        "CACHE_ADDR": cache.main.addr,
        "PORT": "{base + 1}",
    }},
    depends_on=[db, cache],
    healthcheck=http("localhost:{base + 1}/health"),
)

{api_a} = service("{api_a}",
    interface("http", "http", {base}),
    binary="./bin/{api_a}",
    env={{
        "UPSTREAM": {api_b}.http.addr,
        "BROKER": bus.broker.addr,
        "PORT": "{base}",
    }},
    depends_on=[{api_b}, bus],
    healthcheck=http("localhost:{base}/health"),
)

db_down = fault_assumption("db_down", target={api_b}, connect=deny("ECONNREFUSED"))
db_slow = fault_assumption("db_slow", target=db, write=delay("{delay}"))
cache_flaky = fault_assumption("cache_flaky", target={api_b}, read=deny("{errno}", probability="30%"))
bus_reset = fault_assumption("bus_reset", target={api_a}, connect=deny("ECONNRESET"))


def create():
    return {api_a}.http.post(path="{path_a}", body='{{"n": {index}}}')

def fetch():
    return {api_a}.http.get(path="{path_a}/{index}")

def listing():
    return {api_b}.http.get(path="{path_b}")

def health():
    return {api_a}.http.get(path="/health")


def expect_unavailable(r):
    assert_true(r.status >= 500, "a failed dependency is a server error")

def expect_fast(r):
    assert_true(r.duration_ms < {limit}, "answers within {limit} ms")


fault_matrix(
    scenarios=[create, fetch, listing, health],
    faults=[db_down, db_slow, cache_flaky, bus_reset],
    default_expect=lambda r: assert_true(r != None),
    overrides={{
        (create, db_down): expect_unavailable,
        (fetch, db_slow): expect_fast,
        (listing, cache_flaky): expect_fast,
    }},
    exclude=[(health, db_slow)],
)


def test_create_then_fetch():
    created = {api_a}.http.post(path="{path_a}", body='{{"n": {index}}}')
    assert_eq(created.status, 201)
    fetched = {api_a}.http.get(path="{path_a}/{index}")
    assert_eq(fetched.status, 200)
    assert_true(fetched.duration_ms < {limit})

def test_listing_is_cached():
    first = {api_b}.http.get(path="{path_b}")
    second = {api_b}.http.get(path="{path_b}")
    assert_eq(first.status, 200)
    assert_eq(second.status, first.status)

def test_health():
    assert_eq({api_a}.http.get(path="/health").status, 200)
    assert_eq({api_b}.http.get(path="/health").status, 200)
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20250101)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    lines = 0
    for i in range(a.count):
        text = generate(rng, i)
        lines += text.count("\n")
        with open(os.path.join(a.out, f"topology-{i:04d}.star"), "w") as f:
            f.write(text)
    print(f"{a.count} topology files, {lines / max(a.count, 1):.0f} lines each on average, in {a.out}")


if __name__ == "__main__":
    main()
