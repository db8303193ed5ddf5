#!/bin/sh
# One-shot: creates (or updates) the embedseal sink connectors once the Connect worker answers.
set -eu
CONNECT="${CONNECT:-http://connect:8083}"
until curl -fsS "$CONNECT/connector-plugins" | grep -q LuceneSinkConnector; do
  echo "waiting for the Connect worker and the embedseal plugin at $CONNECT"; sleep 2
done
for f in /connectors/*.json; do
  name=embedseal-$(basename "$f" .json)
  curl -fsS -X PUT -H 'Content-Type: application/json' --data @"$f" "$CONNECT/connectors/$name/config" >/dev/null
  echo "connector $name configured"
done
curl -fsS "$CONNECT/connectors?expand=status"
echo
