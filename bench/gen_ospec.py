#!/usr/bin/env python3
"""Deterministic generator of realistic OSpec v1.0 documents for the benchmarks.

Usage: gen_ospec.py OUT_DIR [--count N] [--seed S] [--error-rate R]

Writes N files named `<id>.ospec.yml` into OUT_DIR (created if missing) plus
`MANIFEST.tsv` (file, intended verdict, injected error kind). Only the Python
standard library is used, and the output depends only on the arguments: the same
arguments give the same bytes on any machine.

Documents use the fields of the official v1.0 schema (ospec-format.md §1):
acceptance.{http_endpoints,ux_flows,tests,performance}, technology_stack,
agents, sub_agents, guardrails, tasks (acyclic dependencies), metadata and
secrets. About `--error-rate` of them carry one realistic mistake of the kind
reference/ospec-format.md §2.4 documents (status 2000, pytest file names,
`pnpm@9`, lower-case secret names, coverage as a percentage, a typo'd key ...).
Everything else is valid against the official schema.
"""

import argparse
import os
import random
import sys

WORDS = (
    "account audit billing catalog cart checkout dashboard invoice inventory ledger "
    "order payment profile report search session shipment subscription ticket user "
    "webhook export import notification review rating wishlist coupon refund team"
).split()
ADJ = (
    "fast reliable simple secure modern internal public lightweight scalable "
    "multi-tenant realtime offline-first headless"
).split()
OUTCOME_TYPES = ["web-app", "api", "cli", "library", "ml-pipeline", "mobile-app",
                 "desktop-app", "infrastructure", "game", "documentation"]
OUTCOME_WEIGHTS = [30, 30, 8, 6, 5, 5, 3, 6, 2, 5]
METHODS = ["GET", "GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
STATUS_BY_METHOD = {"GET": [200, 200, 200, 404, 401, 304], "POST": [201, 201, 200, 400, 409, 422],
                    "PUT": [200, 204, 400], "PATCH": [200, 204, 422], "DELETE": [204, 200, 404],
                    "HEAD": [200], "OPTIONS": [204, 200]}
FRAMEWORKS = ["Next.js@15", "SvelteKit@2", "Remix@2", "Nuxt@3", "Astro@4", "FastAPI@0.115",
              "Axum@0.7", "Django@5", "Rails@7.2", "Express@4", "Hono@4"]
UI = ["React@18", "Vue@3", "Svelte@5", "Solid@1.8", "Preact@10"]
STYLING = ["TailwindCSS@4", "styled-components", "CSS Modules", "vanilla-extract", "UnoCSS"]
DATABASES = ["PostgreSQL@16", "Supabase", "PlanetScale", "SQLite", "MongoDB@7", "Redis@7", "Neon"]
RUNTIMES = ["Node.js@20", "Node.js@22", "Bun@1.1", "Deno@2", "Python@3.12", "Rust@1.82"]
DEPLOY = ["Vercel", "Railway", "Cloudflare Pages", "Fly.io", "AWS ECS", "Render", "Kubernetes"]
PMS = ["npm", "yarn", "pnpm", "bun"]
AGENTS = ["claude-code", "cursor", "github-copilot", "sourcegraph-cody", "tabnine"]
MODELS = ["haiku", "sonnet", "opus"]
LICENSES = ["MIT", "Apache-2.0", "BSD-3-Clause", "ISC", "MPL-2.0"]
TEST_TYPES = ["unit", "integration", "e2e", "performance", "security"]
FIRST = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger",
         "Radia", "Donald", "Leslie", "Niklaus", "Sophie", "Yukihiro", "Guido"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen",
        "Dijkstra", "Perlman", "Knuth", "Lamport", "Wirth", "Wilson", "Matsumoto", "Rossum"]
TOOLS = ["Read", "Write", "Edit", "Bash", "Grep", "Glob", "WebFetch"]
FLOW_STEPS = [
    "Open the landing page", "Click the sign-up button", "Fill in email and password",
    "Submit the registration form", "Confirm the email link", "Log in with the new account",
    "Search for a product", "Add the first result to the cart", "Open the cart",
    "Enter the shipping address", "Pay with the test card", "See the order confirmation",
    "Open the dashboard", "Filter the list by date", "Export the report as CSV",
    "Invite a team member", "Change the notification settings", "Log out",
]

TASK_DESC = [
    "Repository layout, linting, formatting and a CI pipeline that runs the test suite on every push",
    "Tables, migrations and validation rules for {a} records, including soft deletes and audit columns",
    "CRUD handlers for {b}, pagination, filtering by {c}, and consistent error bodies for every route",
    "Login, logout and refresh tokens; sessions expire after 30 minutes; rate limits on the login route",
    "Container image, health checks, zero-downtime rollout and alerts on the error rate of the {a} API",
]

# Realistic mistakes; each one makes the document invalid under the official schema.
ERROR_KINDS = [
    "status_out_of_range",   # status: 2000
    "lowercase_method",      # method: get
    "missing_status",        # endpoint without status
    "pytest_file",           # tests/test_api.py (no .test./.spec.)
    "pm_with_version",       # package_manager: pnpm@9
    "custom_outcome_type",   # outcome_type: web-service
    "short_description",     # description < 10 chars
    "typo_key",              # acceptance.http_endpoint (unknown key, closed object)
    "coverage_percent",      # min_test_coverage: 90
    "lowercase_secret",      # secrets.required: [database_url]
    "bad_email",             # maintainers[].email not an email
    "short_version",         # ospec_version: "1.0"
    "task_without_title",    # tasks[] item without title
    "string_port_status",    # status: "200" (string)
]


def q(s):
    """Double-quoted YAML scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Doc:
    def __init__(self, rng, index, error):
        self.r = rng
        self.i = index
        self.err = error
        self.lines = []
        self.test_files = []  # acceptance.tests[].file, relative to the spec's directory

    def w(self, line=""):
        self.lines.append(line)

    def build(self):
        r = self.r
        noun = r.choice(WORDS)
        noun2 = r.choice([w for w in WORDS if w != noun])
        ident = f"{noun}-{noun2}-{self.i:04d}"
        self.ident = ident
        otype = r.choices(OUTCOME_TYPES, OUTCOME_WEIGHTS)[0]
        adj = r.choice(ADJ)
        self.w(f"# OSpec for the {noun} {noun2} service (generated benchmark document #{self.i})")
        self.w('ospec_version: "1.0"' if self.err == "short_version" else 'ospec_version: "1.0.0"')
        self.w(f"id: {ident}")
        self.w(f"name: {q(f'{noun.capitalize()} {noun2.capitalize()} {adj.capitalize()} Service')}")
        if self.err == "short_description":
            self.w("description: TBD")
        else:
            self.w("description: >")
            self.w(f"  A {adj} {otype} that manages {noun} and {noun2} records for the")
            self.w(f"  {r.choice(WORDS)} team, with an HTTP API, background jobs and a small admin UI.")
        self.w("outcome_type: web-service" if self.err == "custom_outcome_type" else f"outcome_type: {otype}")
        self.w()
        self.technology_stack()
        self.agents()
        self.sub_agents()
        self.acceptance(noun, noun2)
        self.guardrails()
        self.tasks(noun, noun2)
        self.metadata(noun, noun2)
        self.secrets(noun)
        return "\n".join(self.lines) + "\n"

    def technology_stack(self):
        r = self.r
        self.w("technology_stack:")
        self.w(f"  meta_framework: {q(r.choice(FRAMEWORKS))}")
        self.w(f"  ui_library: {q(r.choice(UI))}")
        self.w(f"  styling: {q(r.choice(STYLING))}")
        self.w(f"  database: {q(r.choice(DATABASES))}")
        self.w(f"  runtime: {q(r.choice(RUNTIMES))}")
        self.w("  package_manager: pnpm@9" if self.err == "pm_with_version"
               else f"  package_manager: {r.choice(PMS)}")
        self.w(f"  deployment: {q(r.choice(DEPLOY))}")
        self.w()

    def agents(self):
        r = self.r
        self.w("agents:")
        self.w(f"  primary: {r.choice(AGENTS)}")
        self.w("  secondary:")
        self.w(f"    testing: {r.choice(AGENTS)}")
        self.w(f"    security: {r.choice(AGENTS)}")
        self.w("  preferences:")
        self.w(f"    auto_commit: {r.choice(['true', 'false'])}")
        self.w(f"    style_guide: {q(r.choice(['airbnb', 'standard', 'google', 'pep8']))}")
        self.w(f"    review: {{ required: {r.choice(['true', 'false'])}, reviewers: {r.randint(1, 3)} }}")
        self.w()

    def sub_agents(self):
        r = self.r
        self.w("sub_agents:")
        for name, desc in r.sample([
            ("api-reviewer", "Reviews HTTP handlers for consistency and error handling"),
            ("test-writer", "Writes unit and integration tests for new endpoints"),
            ("db-migrator", "Plans and reviews database schema migrations"),
            ("perf-tuner", "Profiles hot paths and proposes performance fixes"),
        ], r.randint(1, 2)):
            self.w(f"  - name: {name}")
            self.w(f"    description: {q(desc)}")
            self.w(f"    focus: [{', '.join(r.sample(['api', 'testing', 'database', 'performance', 'security'], 2))}]")
            self.w(f"    tools: [{', '.join(r.sample(TOOLS, 3))}]")
            self.w(f"    model: {r.choice(MODELS)}")
        self.w()

    def acceptance(self, noun, noun2):
        r = self.r
        self.w("acceptance:")
        self.w("  http_endpoint:" if self.err == "typo_key" else "  http_endpoints:")
        n = r.randint(9, 12)
        bad = r.randrange(n)
        resources = [noun, noun2, r.choice(WORDS)]
        for k in range(n):
            method = r.choice(METHODS)
            res = r.choice(resources)
            path = r.choice([f"/api/v1/{res}s", f"/api/v1/{res}s/{{id}}", f"/api/v1/{res}s/{{id}}/history",
                             "/health", "/api/v1/auth/login", f"/api/v1/{res}s/search"])
            status = r.choice(STATUS_BY_METHOD[method])
            fields = [("method", method.lower() if k == bad and self.err == "lowercase_method" else method),
                      ("path", q(path) if r.random() < 0.5 else path)]
            if k == bad and self.err == "status_out_of_range":
                fields.append(("status", f"{status}0"))
            elif k == bad and self.err == "string_port_status":
                fields.append(("status", f'"{status}"'))
            elif not (k == bad and self.err == "missing_status"):
                fields.append(("status", str(status)))
            # a 204/304 response has no body: ospecc rightly warns about response_contains there
            if method in ("GET", "POST") and status not in (204, 304) and r.random() < 0.6:
                fields.append(("response_contains",
                               f"[{q(res)}, {q(r.choice(['id', 'created_at', 'items', 'total']))}]"))
            if r.random() < 0.6:
                # flow style: `{`/`}` are indicators there, so such a path must be quoted
                fields = [(a, q(path) if a == "path" and "{" in b else b) for a, b in fields]
                self.w("    - { " + ", ".join(f"{a}: {b}" for a, b in fields) + " }")
            else:
                for j, (a, b) in enumerate(fields):
                    self.w(("    - " if j == 0 else "      ") + f"{a}: {b}")
        self.w("  ux_flows:")
        for flow in r.sample(['Sign up', 'Checkout', 'Export', 'Onboarding', 'Invite'], 2):
            self.w(f"    - name: {q(flow + ' ' + noun)}")
            self.w("      steps:")
            start = r.randrange(len(FLOW_STEPS) - 4)
            for s in FLOW_STEPS[start:start + r.randint(3, 4)]:
                self.w(f"        - {s}")
        self.w("  tests:")
        for t in range(3):
            if t == 0 and self.err == "pytest_file":
                self.test_files.append(f"tests/test_{noun}.py")
                self.w(f"    - file: {self.test_files[-1]}")
            else:
                ext = r.choice(["ts", "js", "py", "rs"])
                self.test_files.append(f"{r.choice(['tests', 'src', 'e2e'])}/{r.choice([noun, noun2])}-{t}."
                                       f"{r.choice(['test', 'spec'])}.{ext}")
                self.w(f"    - file: {self.test_files[-1]}")
            self.lines[-1] += f", type: {r.choice(TEST_TYPES)}, coverage_threshold: {r.choice(['0.8', '0.85', '0.9', '0.75'])} }}"
            self.lines[-1] = self.lines[-1].replace("- file: ", "- { file: ", 1)
        self.w("  performance:")
        self.w(f"    response_time_ms: {r.choice([100, 150, 200, 250, 500])}")
        self.w(f"    throughput_rps: {r.choice([50, 100, 500, 1000])}")
        self.w(f"    memory_mb: {r.choice([128, 256, 512, 1024])}")
        self.w(f"    cpu_percent: {r.choice([50, 60, 70.5, 80])}")
        self.w(f"    disk_space_mb: {r.choice([512, 1024, 2048])}")
        self.w()

    def guardrails(self):
        r = self.r
        self.w("guardrails:")
        self.w("  tests_required: true")
        self.w("  min_test_coverage: 90" if self.err == "coverage_percent"
               else f"  min_test_coverage: {r.choice(['0.7', '0.8', '0.85', '0.9'])}")
        self.w("  lint: true")
        self.w(f"  type_check: {r.choice(['true', 'false'])}")
        self.w("  dependency_check: true")
        self.w(f"  security_scan: {r.choice(['true', 'false'])}")
        self.w(f"  license_whitelist: [{', '.join(r.sample(LICENSES, 3))}]")
        self.w(f"  max_pr_size: {r.choice([200, 400, 500, 800])}")
        self.w(f"  human_approval_required: [{', '.join(r.sample(['database-migrations', 'auth', 'billing', 'infrastructure'], 2))}]")
        self.w()

    def tasks(self, noun, noun2):
        r = self.r
        self.w("tasks:")
        ids = ["setup", f"{noun}-model", f"{noun2}-api", "auth", "deploy"]
        titles = ["Project setup and CI", f"{noun.capitalize()} data model", f"{noun2.capitalize()} HTTP API",
                  "Authentication and sessions", "Production deployment"]
        ntasks = r.randint(4, 5)
        missing = r.randrange(1, ntasks)
        for k, (tid, title) in enumerate(zip(ids[:ntasks], titles)):
            self.w(f"  - id: {tid}")
            if not (k == missing and self.err == "task_without_title"):
                self.w(f"    title: {q(title)}")
            if r.random() < 0.45:
                self.w(f"    description: {q(TASK_DESC[k].format(a=noun, b=noun2, c=r.choice(WORDS)))}")
            if k > 0:
                deps = sorted(set(r.sample(ids[:k], min(k, r.randint(1, 2)))), key=ids.index)
                self.w(f"    dependencies: [{', '.join(deps)}]")
            if r.random() < 0.5:
                self.w(f"    estimated_hours: {r.choice([2, 4, 6, 8, 12, 16, 0.5])}")
            self.w(f"    risk_level: {r.choice(['low', 'medium', 'high'])}")
        self.w()

    def metadata(self, noun, noun2):
        r = self.r
        self.w("metadata:")
        self.w("  maintainers:")
        for _ in range(r.randint(1, 2) if self.err != "bad_email" else 1):
            f, l = r.choice(FIRST), r.choice(LAST)
            self.w(f"    - name: {q(f + ' ' + l)}")
            email = f"{f.lower()}.{l.lower()}" + ("@" if self.err != "bad_email" else " at ") + "example.com"
            self.w(f"      email: {email}")
            self.w(f"      github: {f.lower()}{l.lower()[:3]}{r.randint(1, 99)}")
        self.w(f"  license: {r.choice(LICENSES)}")
        self.w(f'  version: "1.{r.randint(0, 12)}.{r.randint(0, 30)}"')
        self.w(f"  tags: [{noun}, {noun2}, {r.choice(['backend', 'frontend', 'fullstack'])}]")
        self.w(f"  estimated_effort: {q(r.choice(['2 weeks', '1 month', '3 sprints']))}")
        m, d = r.randint(1, 12), r.randint(1, 28)
        self.w(f'  created_at: "2024-{m:02d}-{d:02d}T09:{r.randint(0, 59):02d}:00Z"')
        self.w(f'  updated_at: "2025-{m:02d}-{d:02d}T17:{r.randint(0, 59):02d}:00Z"')
        self.w()

    def secrets(self, noun):
        r = self.r
        self.w("secrets:")
        self.w(f"  provider: {q(r.choice(['vercel://env', 'aws://secrets-manager', 'vault://kv/app', 'env']))}")
        req = ["DATABASE_URL", "JWT_SECRET", f"{noun.upper()}_API_KEY"]
        if self.err == "lowercase_secret":
            req[0] = "database_url"
        self.w(f"  required: [{', '.join(req)}]")
        self.w(f"  optional: [SENTRY_DSN, {r.choice(['STRIPE_KEY', 'SMTP_PASSWORD', 'REDIS_URL'])}]")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20250101)
    ap.add_argument("--error-rate", type=float, default=0.05)
    ap.add_argument("--no-test-files", action="store_true",
                    help="do not create the test files the documents name")
    ap.add_argument("--start", type=int, default=0, help="first document index (for disjoint sets)")
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    os.makedirs(a.out_dir, exist_ok=True)
    total_bytes = total_lines = invalid = 0
    test_files = set()
    manifest = ["file\tverdict\terror"]
    for i in range(a.start, a.start + a.count):
        err = rng.choice(ERROR_KINDS) if rng.random() < a.error_rate else None
        doc = Doc(rng, i, err)
        text = doc.build()
        name = f"{doc.ident}.ospec.yml"
        with open(os.path.join(a.out_dir, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        total_bytes += len(text.encode())
        total_lines += text.count("\n")
        invalid += err is not None
        test_files.update(doc.test_files)
        manifest.append(f"{name}\t{'invalid' if err else 'valid'}\t{err or '-'}")
    # A repository whose specs are right has the test files they name: create them (tiny stubs)
    # so that ospecc's file-existence check (a warning) reports nothing on valid documents.
    if not a.no_test_files:
        for rel in sorted(test_files):
            path = os.path.join(a.out_dir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write("// test stub written by bench/gen_ospec.py\n")
    with open(os.path.join(a.out_dir, "MANIFEST.tsv"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print(f"generated {a.count} files, {total_lines} lines ({total_lines / a.count:.0f}/file), "
          f"{total_bytes / 1e6:.2f} MB, {invalid} with an injected error, "
          f"{0 if a.no_test_files else len(test_files)} test stubs -> {a.out_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
