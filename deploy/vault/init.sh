#!/bin/sh
# One-shot Vault setup for the docker-compose stack (Vault in dev mode: in memory, development only).
# Enables Transit, creates one key per tenant and the operator's key-event signing key, writes the least-privilege policies and creates one periodic
# token per role into /secrets (a volume the other services mount read-only). Safe to run again.
set -eu
: "${VAULT_ADDR:=http://vault:8200}"
: "${VAULT_TOKEN:?the root token}"
: "${TENANTS:=acme globex initech}"
: "${SECRETS_DIR:=/secrets}"
: "${POLICY_DIR:=/policies}"
export VAULT_ADDR VAULT_TOKEN

until vault status >/dev/null 2>&1; do echo "waiting for Vault at $VAULT_ADDR"; sleep 1; done

vault secrets list -format=json | grep -q '"transit/"' || vault secrets enable transit
for t in $TENANTS; do
  vault read "transit/keys/tenant-$t" >/dev/null 2>&1 || vault write -f "transit/keys/tenant-$t" type=aes256-gcm96
  echo "transit key tenant-$t ready"
done

# The operator's key-event signing key: pipelines and sinks read its public key at start
# (kms.events.trusted-signers=kms:embedseal-operator-signing), so it exists before they do.
vault read transit/keys/embedseal-operator-signing >/dev/null 2>&1 \
  || vault write -f transit/keys/embedseal-operator-signing type=ed25519
echo "transit signing key embedseal-operator-signing ready"
# One audit-checkpoint signing key per role; each role's policy may sign with its own only.
for role in pipeline sink operator; do
  vault read "transit/keys/audit-$role" >/dev/null 2>&1 || vault write -f "transit/keys/audit-$role" type=ed25519
done
echo "transit audit keys ready"

for role in pipeline sink operator; do
  vault policy write "embedseal-$role" "$POLICY_DIR/embedseal-$role.hcl"
  f="$SECRETS_DIR/$role-token"
  # Keep a token that still works (a re-run); make a new one otherwise (dev Vault forgets tokens on restart).
  if [ -s "$f" ] && VAULT_TOKEN="$(cat "$f")" vault token lookup >/dev/null 2>&1; then
    echo "$role token still valid"
  else
    vault token create -policy="embedseal-$role" -period=768h -field=token > "$f.tmp" && mv "$f.tmp" "$f"
    echo "$role token written to $f"
  fi
  chmod 0444 "$f"
done
