#!/usr/bin/env bash
# `make run`: serve the orders example (orders.yaml) on http://127.0.0.1:$PORT until Ctrl-C,
# after printing a curl line for every route.
#   BIN   the epos binary (default: build/epos of this source tree)
#   PORT  the port to listen on (default 8080)
#   DB    the SQLite file (default: orders.db beside BIN, so `make clean` removes it); it is
#         created, with the schema and the seed data, by the first request that needs it
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN=${BIN:-$here/../../build/epos}
PORT=${PORT:-8080}
DB=${DB:-$(cd "$(dirname "$BIN")" && pwd)/orders.db}
url="http://127.0.0.1:$PORT"

cat <<CURL
Orders API on $url (database $DB). Try, from another terminal:

  curl $url/ping
  curl -i -H 'Content-Type: application/json' \\
       -d '{"customer":"alice","items":[{"sku":"A1","qty":2},{"sku":"B2","qty":1}]}' $url/orders
  curl -i -H 'Content-Type: application/json' \\
       -d '{"customer":"bob","items":[{"sku":"C3","qty":3}]}' $url/orders
  curl -i $url/orders/1
  curl -i '$url/orders?customer=alice'
  curl -i $url/orders
  curl -i -H 'Content-Type: application/json' -d '{"customer":"alice","items":[{"sku":"Z9","qty":1}]}' $url/orders
  curl -i -H 'Content-Type: application/json' -d '{"customer":"alice","items":[{"sku":"A1","qty":0}]}' $url/orders
  curl -i -H 'Content-Type: application/json' -d '{"customer": ' $url/orders
  curl -i $url/orders/999
  curl -i -X DELETE $url/orders/1

Products: A1 2.50, B2 10.00, C3 0.99. Customers: alice (10% off), bob; anyone else pays full price.
Ctrl-C stops the server.

CURL
exec "$BIN" run "$here/orders.yaml" --values "$here/orders.values.yaml" -e "PORT=$PORT" -e "DB=$DB"
