#!/bin/sh
# One-shot Vault setup for the docker-compose stack. Initialises the file-backed server on its first run (one unseal
# key and the root token into VAULT_ADMIN_DIR, a volume only this service mounts) and unseals it after a restart;
# with VAULT_TOKEN given (a dev server, RealStackIT) it uses that instead. Then enables Transit, creates one key per
# tenant and the operator's key-event signing key, writes the least-privilege policies and creates one periodic token
# per role, each into the directory of the one container that uses it (PIPELINE_SECRETS_DIR, SINK_SECRETS_DIR,
# OPERATOR_SECRETS_DIR; SECRETS_DIR for all three when those are not set), mode 0400, owned by that container's user
# (PIPELINE_UID, SINK_UID, OPERATOR_UID). Safe to run again.
set -eu
: "${VAULT_ADDR:=http://vault:8200}"
: "${TENANTS:=acme globex initech}"
: "${SECRETS_DIR:=/secrets}"
: "${POLICY_DIR:=/policies}"
: "${VAULT_ADMIN_DIR:=/vault-admin}"
export VAULT_ADDR

# vault status: 0 unsealed, 2 sealed (or not initialised), 1 unreachable.
until vault status >/dev/null 2>&1 || [ $? -eq 2 ]; do echo "waiting for Vault at $VAULT_ADDR"; sleep 1; done

if [ -z "${VAULT_TOKEN:-}" ]; then
  umask 077
  mkdir -p "$VAULT_ADMIN_DIR"
  if ! vault operator init -status >/dev/null 2>&1; then
    # One key share: the demo stack unseals itself. A real deployment uses several shares held by different people,
    # or an auto-unseal seal, and revokes the root token after setup.
    vault operator init -key-shares=1 -key-threshold=1 > "$VAULT_ADMIN_DIR/init.txt"
    sed -n 's/^Unseal Key 1: //p' "$VAULT_ADMIN_DIR/init.txt" > "$VAULT_ADMIN_DIR/unseal-key"
    sed -n 's/^Initial Root Token: //p' "$VAULT_ADMIN_DIR/init.txt" > "$VAULT_ADMIN_DIR/root-token"
    rm -f "$VAULT_ADMIN_DIR/init.txt"
    chmod 0400 "$VAULT_ADMIN_DIR/unseal-key" "$VAULT_ADMIN_DIR/root-token"
    echo "Vault initialised; its unseal key and root token are in the vault-admin volume (vault-init only)"
  fi
  if vault status 2>/dev/null | grep -q '^Sealed *true'; then
    vault operator unseal "$(cat "$VAULT_ADMIN_DIR/unseal-key")" >/dev/null
    echo "Vault unsealed"
  fi
  VAULT_TOKEN="$(cat "$VAULT_ADMIN_DIR/root-token")"
fi
export VAULT_TOKEN

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
  case $role in
    pipeline) dir="${PIPELINE_SECRETS_DIR:-$SECRETS_DIR}"; owner="${PIPELINE_UID:-}" ;;
    sink) dir="${SINK_SECRETS_DIR:-$SECRETS_DIR}"; owner="${SINK_UID:-}" ;;
    operator) dir="${OPERATOR_SECRETS_DIR:-$SECRETS_DIR}"; owner="${OPERATOR_UID:-}" ;;
  esac
  mkdir -p "$dir"
  f="$dir/$role-token"
  # Keep a token that still works (a re-run); make a new one otherwise.
  if [ -s "$f" ] && VAULT_TOKEN="$(cat "$f")" vault token lookup >/dev/null 2>&1; then
    echo "$role token still valid"
  else
    (umask 077 && vault token create -policy="embedseal-$role" -period=768h -field=token > "$f.tmp")
    rm -f "$f" && mv "$f.tmp" "$f"
    echo "$role token written to $f"
  fi
  # Only the container that uses it may read it: no one else, and not the other roles.
  chmod 0400 "$f"
  if [ -n "$owner" ]; then chown "$owner:$owner" "$f"; fi
done
