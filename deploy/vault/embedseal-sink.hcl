# Sink connectors in index mode: unwrap DEKs to unseal records. They never seal, so no encrypt.
path "transit/decrypt/tenant-*" {
  capabilities = ["update"]
}
