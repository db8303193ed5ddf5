# Sink connectors and `embedseal search`: unwrap DEKs to unseal records. They never seal, so no encrypt; they do not
# read tenant keys either (a refused read is answered from the key-event topic).
path "transit/decrypt/tenant-*" {
  capabilities = ["update"]
}
# The public key that signs key events, read at start to verify them (read only: a sink cannot sign). Vault globs
# only at the end of a path: this covers every key named embedseal-...
path "transit/keys/embedseal-*" {
  capabilities = ["read"]
}
# Sign this role's audit checkpoints (after each shred receipt, and when a task stops). Its own key only.
path "transit/keys/audit-sink" {
  capabilities = ["read"]
}
path "transit/sign/audit-sink" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
