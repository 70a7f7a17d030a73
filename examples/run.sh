#!/usr/bin/env bash
# `make run`: validate the example workflows and call each one, printing the command and
# its outcome, so a new user sees what EPOS does in a few seconds. BIN: the epos binary.
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BIN:-../build/epos}

show() {
  printf '$ epos'
  printf ' %q' "$@"
  printf '\n'

  "$BIN" "$@" || echo "(exit $?)"
  echo
}

show validate --values hello/hello.values.yaml hello/hello.yaml fanout/fanout.yaml routing/routing.yaml
show call hello/hello.yaml --values hello/hello.values.yaml --node greet --payload '{"name": "Ada"}'
show call hello/hello.yaml --values hello/hello.values.yaml -e GREETING=Bonjour --node greet \
  --payload '{"name": "Ada"}'
show call fanout/fanout.yaml --node order --timeout 2s \
  --payload '{"id": 7, "lines": [{"sku": "pen", "qty": 3}, {"sku": "ink", "qty": 1}]}'
show call routing/routing.yaml --node event --payload '{"type": "payment", "amount": 250}'
show call routing/routing.yaml --node event --payload '{"type": "gift", "amount": 5}'
show graph routing/routing.yaml --format mermaid
echo "Try your own: $BIN call FILE.yaml --node NAME --payload JSON   ($BIN --help for more)"
