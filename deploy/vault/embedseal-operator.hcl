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
# Key import (tenants add --import-key): the mount's transport public key, which tenants wrap their key material
# with; the import itself is keys/tenant-*/import, covered above. Reading it reveals nothing secret.
path "transit/wrapping_key" {
  capabilities = ["read"]
}
# Key events are signed with a Transit key of embedseal's own (embedseal-operator-signing by default): create it,
# read its public key, sign. No delete: a deleted signing key would leave every signed event unverifiable. Vault
# globs only at the end of a path, so this covers every key named embedseal-... (tenant keys are tenant-...).
path "transit/keys/embedseal-*" {
  capabilities = ["create", "read", "update"]
}
path "transit/sign/embedseal-*" {
  capabilities = ["update"]
}
# Sign the operator commands' audit checkpoints, and read every role's audit key to verify the trail (audit verify).
path "transit/keys/audit-*" {
  capabilities = ["read"]
}
path "transit/sign/audit-operator" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
