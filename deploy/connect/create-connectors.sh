#!/bin/sh
# One-shot: creates (or updates) the embedseal sink connectors once the Connect worker answers. The REST API needs a
# login: NETRC names a netrc file with it (secrets-init writes the stack's, readable by this container only).
set -eu
CONNECT="${CONNECT:-http://connect:8083}"
NETRC="${NETRC:-/secrets/netrc}"
c() { curl -fsS --netrc-file "$NETRC" "$@"; }
until c "$CONNECT/connector-plugins" | grep -q LuceneSinkConnector; do
  echo "waiting for the Connect worker and the embedseal plugin at $CONNECT"; sleep 2
done
for f in /connectors/*.json; do
  name=embedseal-$(basename "$f" .json)
  c -X PUT -H 'Content-Type: application/json' --data @"$f" "$CONNECT/connectors/$name/config" >/dev/null
  echo "connector $name configured"
done
c "$CONNECT/connectors?expand=status"
echo
