#!/usr/bin/env bash
# herald run --once on 25,000 and 100,000 contacts, email into Postfix's
# smtp-sink and SMS into a loopback gateway, next to the raw throughput of the
# same servers (smtp-source, wrk) in the same run (see bench/run_vs_raw.py).
# By hand only (not in CI): it takes a few minutes and installs packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# Postfix's load tools and wrk, from Debian. Installing postfix must not start
# a mail server: policy-rc.d (exit 101) forbids starting services meanwhile.
missing=()
[ -x /usr/sbin/smtp-sink ] && [ -x /usr/sbin/smtp-source ] || missing+=(postfix)
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench/run.sh needs ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
    exit 2
  fi
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
fi

cargo build --release --quiet -p herald
# The SMS gateway is a bench target (runtime/benches/sms_gateway.rs), built
# with the release profile; cargo names its executable.
gateway=$(cargo bench --quiet -p herald --bench sms_gateway --no-run --message-format=json \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "sms_gateway" and m.get("executable"):
        print(m["executable"])')
HERALD_BENCH_GATEWAY="$gateway" python3 bench/run_vs_raw.py
