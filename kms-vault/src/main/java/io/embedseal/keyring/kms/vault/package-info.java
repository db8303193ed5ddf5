/** HashiCorp Vault Transit as a KMS: DEKs wrapped by encrypt/decrypt with associated data, keys by template or BYOK name. */
package io.embedseal.keyring.kms.vault;
