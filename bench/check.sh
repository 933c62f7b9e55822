#!/usr/bin/env bash
# `herald check` and the language server on a generated year of campaigns
# (issue 11): 2,000 campaigns, 1,000 segments, 2,000 messages and 500
# scenarios, and the same year with 500 and 1,000 campaigns.
# Targets: check ≤ 3× the bare YAML parse of the same files, growing
# linearly; language server edit → diagnostics median ≤ 100 ms.
# HERALD_BENCH_CAMPAIGNS=500,1000,2000 picks the sizes. Exits 1 on a miss.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
cargo bench -p herald --bench check || status=1
cargo bench -p herald --bench lsp || status=1
exit $status
