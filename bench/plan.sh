#!/usr/bin/env bash
# herald plan on 1,000,000 contacts next to DuckDB (see bench/plan_vs_duckdb.py).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
python3 -m venv bench/out/venv
bench/out/venv/bin/pip install --quiet 'duckdb==2.0.0'
bench/out/venv/bin/python bench/plan_vs_duckdb.py
