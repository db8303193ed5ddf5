# Sink connectors and `embedseal search`: unwrap DEKs to unseal records. They never seal, so no encrypt; they do not
# read keys either (a refused read is answered from the key-event topic).
path "transit/decrypt/tenant-*" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
