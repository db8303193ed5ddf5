/** A PKCS#11 token (HSM) through SunPKCS11: non-extractable AES-256 KEKs, DEKs wrapped by AES-GCM inside the token. */
package io.embedseal.keyring.kms.pkcs11;
