/** Data-encryption keys: the handle that encrypts and decrypts without ever giving out its key bytes. */
package io.embedseal.keyring.dek;
