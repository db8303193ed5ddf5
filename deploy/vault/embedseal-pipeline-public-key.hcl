# The sealing pipeline when every tenant has a public-key KEK (docs/key-management.md, "Public-key KEKs"): it wraps
# data keys with the public keys pinned in the tenants' signed key events, so it needs no grant on any tenant key at
# all: no encrypt, no decrypt, not even read. What is left is what every pipeline does besides sealing.
#
# The public key that signs key events (embedseal-operator-signing by default), read at start to verify them.
path "transit/keys/embedseal-*" {
  capabilities = ["read"]
}
# Sign this role's audit checkpoints (embedseal audit verify checks them).
path "transit/keys/audit-pipeline" {
  capabilities = ["read"]
}
path "transit/sign/audit-pipeline" {
  capabilities = ["update"]
}
# Tell a refused token (expired, revoked) from a refused key.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
