# Bring your own key: the key with which tenant acme signs its own later key events, acme-authority, kept in acme's
# OWN Vault. Whoever holds this policy signs for acme (read gives the public key, update on sign/ a signature); it
# cannot create, rotate or delete the key, nor use any other.
path "transit/keys/acme-authority" {
  capabilities = ["read"]
}
path "transit/sign/acme-authority" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
