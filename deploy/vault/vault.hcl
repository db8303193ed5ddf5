# The docker-compose stack's Vault: a real server (not dev mode) keeping its data in the vault-data volume, so
# restarting it forgets nothing. deploy/vault/init.sh initialises it on the first run (one unseal key, kept with the
# root token in the vault-admin volume, which only vault-init mounts) and unseals it after every restart.
# No TLS: it listens on the compose network only (its published port is bound to 127.0.0.1). A deployment beyond one
# host puts TLS here (tls_cert_file, tls_key_file), uses kms.vault.ca-file in the clients, drops
# kms.vault.allow-insecure-http, and uses an auto-unseal seal instead of a key on disk.
storage "file" {
  path = "/vault/file"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = "true"
}

api_addr = "http://vault:8200"
ui       = false
