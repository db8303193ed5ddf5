# The sealing pipeline (embedseal run): wrap and unwrap DEKs under tenant keys, and read a key's versions (metadata
# only: Transit never returns key material to this). It cannot create, rotate, configure or delete keys, and it
# cannot touch keys whose names do not start with tenant-. No "create" on encrypt: Transit's encrypt creates a
# missing key for a token that may create, so a mistyped tenant would silently get a fresh key.
path "transit/encrypt/tenant-*" {
  capabilities = ["update"]
}
path "transit/decrypt/tenant-*" {
  capabilities = ["update"]
}
path "transit/keys/tenant-*" {
  capabilities = ["read"]
}
# The public key that signs key events (embedseal-operator-signing by default), read at start to verify them. Read
# only: the pipeline cannot sign. Vault globs only at the end of a path: this covers every key named embedseal-...
path "transit/keys/embedseal-*" {
  capabilities = ["read"]
}
# Sign this role's audit checkpoints (embedseal audit verify checks them). Its own key only: a pipeline cannot sign
# as a sink or an operator.
path "transit/keys/audit-pipeline" {
  capabilities = ["read"]
}
path "transit/sign/audit-pipeline" {
  capabilities = ["update"]
}
# embedseal tells a refused token (expired, revoked: its own credential problem) from a refused key (the tenant's
# revocation) by looking its token up. The default policy grants this too; it is here for tokens created without it.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
