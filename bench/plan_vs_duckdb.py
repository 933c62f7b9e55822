"""Benchmark: `herald plan` on 1,000,000 synthetic contacts of
examples/boutique-mode, next to DuckDB computing the same audience counts on
the same CSV, in the same run. Run with `bench/plan.sh` (it installs DuckDB).

Targets (issue #4): herald plan (forecast included) at most 2x DuckDB's time,
and under 5 s; memory bounded (peak RSS reported). Exits 1 when missed."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
HERALD = os.path.join(ROOT, "target", "release", "herald")
PLAN = os.path.join(OUT, "boutique-1m")
COUNT = int(os.environ.get("HERALD_BENCH_CONTACTS", "1000000"))
RUNS = 3
# One instant for both engines, so "within 30 d" cuts at the same moment.
NOW = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")

# The audiences of examples/boutique-mode, in SQL, with Herald's semantics:
# a test on a missing value is false (COALESCE(..., false)).
WITHIN = f"COALESCE(lpa <= TIMESTAMPTZ '{NOW}' AND lpa >= TIMESTAMPTZ '{NOW}' - INTERVAL {{d}} DAY, false)"
LAPSED = f"(lpa IS NOT NULL AND NOT {WITHIN.format(d=180)})"
RECENT = WITHIN.format(d=30)
AUDIENCES = {
    "campaigns.black_friday_email": f"consent_email_marketing AND NOT {LAPSED}",
    "campaigns.black_friday_sms": f"phone IS NOT NULL AND consent_sms_marketing AND NOT consent_email_marketing AND {RECENT}",
    "campaigns.idf_shoes_drop": f"{RECENT} AND COALESCE(region = 'IDF', false)"
    " AND list_contains(string_split(COALESCE(interests, ''), '|'), 'shoes') AND consent_push_marketing",
    "campaigns.vip_sales_early_access": "(COALESCE(loyalty_tier = 'gold', false) OR COALESCE(total_spent >= 1000, false))"
    " AND consent_email_marketing",
    "scenarios.birthday": "consent_email_marketing",
    "scenarios.cart_abandonment": "consent_email_marketing",
    "scenarios.reactivation": "consent_email_marketing AND COALESCE(orders >= 1, false)",
    "scenarios.welcome_series": "consent_email_marketing",
}


def prepare():
    if os.path.exists(os.path.join(PLAN, "data", "contacts.csv")):
        return
    shutil.rmtree(PLAN, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "examples", "boutique-mode"), PLAN, ignore=shutil.ignore_patterns(".herald"))
    # --force: the copy holds the example's 2,000 contacts, replaced here.
    subprocess.run([HERALD, "contacts", "generate", PLAN, "--count", str(COUNT), "--seed", "7", "--force"], check=True)


def herald_plan():
    """Time one `herald plan`; also its own peak RSS (wait4 reports it per process)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [HERALD, "plan", "--format", "json", PLAN], stdout=out, env={**os.environ, "HERALD_NOW": NOW}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"herald plan failed with exit code {proc.returncode}")
        out.seek(0)
        plan = json.load(out)
    counts = {c["address"]: c["impact"]["audience"] for c in plan["changes"] if "impact" in c}
    return elapsed, counts, plan["contacts"]["contacts"], usage.ru_maxrss


def duckdb_counts():
    import duckdb  # after herald's runs: a child forked from a big process inherits its peak RSS

    start = time.perf_counter()
    con = duckdb.connect()
    csv = os.path.join(PLAN, "data", "contacts.csv")
    selects = ", ".join(f"count(*) FILTER (WHERE {cond}) AS \"{name}\"" for name, cond in AUDIENCES.items())
    row = con.execute(
        f"""
        WITH c AS (
            SELECT *, CAST(last_purchase_at AS TIMESTAMPTZ) AS lpa
            FROM read_csv('{csv}', header = true, all_varchar = false)
        )
        SELECT count(*), {selects} FROM c
        """
    ).fetchone()
    elapsed = time.perf_counter() - start
    return elapsed, dict(zip(AUDIENCES, row[1:])), row[0]


def main():
    prepare()
    herald_runs, duck_runs, peak_kib = [], [], 0
    for _ in range(RUNS):
        t, herald_counts, contacts, rss = herald_plan()
        herald_runs.append(t)
        peak_kib = max(peak_kib, rss)
    for _ in range(RUNS):
        t, duck_counts, rows = duckdb_counts()
        duck_runs.append(t)
    h, d = min(herald_runs), min(duck_runs)
    print(f"contacts:            {contacts:,} (DuckDB read {rows:,} rows)")
    print(f"herald plan:         {h:6.2f} s  (best of {RUNS}; runs {', '.join(f'{x:.2f}' for x in herald_runs)})")
    print(f"DuckDB same counts:  {d:6.2f} s  (best of {RUNS}; {sys.modules['duckdb'].__version__}, {os.cpu_count()} cores)")
    print(f"ratio:               {h / d:6.2f}x")
    print(f"herald peak RSS:     {peak_kib / 1024:6.1f} MiB")
    agree = all(herald_counts[k] == duck_counts[k] for k in AUDIENCES)
    for k in AUDIENCES:
        mark = "=" if herald_counts[k] == duck_counts[k] else "!="
        print(f"  {k:36} herald {herald_counts[k]:>9,} {mark} DuckDB {duck_counts[k]:>9,}")
    ok = agree and h <= 2 * d and h < 5.0
    print("targets (same counts, <= 2x DuckDB, < 5 s):", "met" if ok else "MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
