# The sealing pipeline: wrap and unwrap DEKs under tenant keys. Nothing else: it cannot read, create, rotate,
# configure or delete keys, and it cannot touch keys that are not tenant keys.
path "transit/encrypt/tenant-*" {
  capabilities = ["update"]
}
path "transit/decrypt/tenant-*" {
  capabilities = ["update"]
}
path "transit/datakey/plaintext/tenant-*" {
  capabilities = ["update"]
}
path "transit/datakey/wrapped/tenant-*" {
  capabilities = ["update"]
}
