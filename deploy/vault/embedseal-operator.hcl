# The operator (embedseal keys ..., tenants add --create-key): create, read, rotate, restrict and delete tenant keys.
# It cannot use them: no encrypt, decrypt or datakey, so an operator token opens no tenant's data.
path "transit/keys/tenant-*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "transit/keys/tenant-*/rotate" {
  capabilities = ["update"]
}
path "transit/keys/tenant-*/config" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
