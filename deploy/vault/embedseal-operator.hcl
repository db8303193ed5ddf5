# The operator (embedseal keys ...): create, read, rotate, configure and delete tenant keys. It cannot use them:
# no encrypt, decrypt or datakey.
path "transit/keys/tenant-*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "transit/keys/tenant-*/rotate" {
  capabilities = ["update"]
}
path "transit/keys/tenant-*/config" {
  capabilities = ["update"]
}
