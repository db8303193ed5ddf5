/** The development-only KMS: per-tenant KEKs in cleartext Tink keyset files under a data directory. */
package io.embedseal.keyring.kms.local;
