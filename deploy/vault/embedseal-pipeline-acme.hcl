# Bring your own key: tenant acme keeps its own Transit key, acme-own-key, and grants the pipeline the use of that
# one key and nothing else (docs/operations.md). Revoking is deleting this policy, or its two update grants; the
# pipeline then sees HTTP 403 and treats it as the tenant's revocation.
path "transit/encrypt/acme-own-key" {
  capabilities = ["update"]
}
path "transit/decrypt/acme-own-key" {
  capabilities = ["update"]
}
# Optional: lets `embedseal tenants add` and the status page show the key's versions (metadata, never key material).
path "transit/keys/acme-own-key" {
  capabilities = ["read"]
}
# As in embedseal-pipeline.hcl: read the public key that signs key events (embedseal-operator-signing by default),
# never sign. Vault globs only at the end of a path: this covers every key named embedseal-...
path "transit/keys/embedseal-*" {
  capabilities = ["read"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
