package io.embedseal.keyring.kms;

/**
 * What a KMS says about one key. No key material.
 *
 * @param provider             the KMS provider name
 * @param keyName              the key's name in that KMS
 * @param latestVersion        the version that wraps new DEKs
 * @param minDecryptionVersion the oldest version that may still unwrap (1 when unrestricted)
 * @param state                whether the key may be used at all
 */
public record KeyDescription(
        String provider, String keyName, int latestVersion, int minDecryptionVersion, KeyState state) {

    public KeyDescription {
        if (latestVersion < 1 || minDecryptionVersion < 1 || minDecryptionVersion > latestVersion) {
            throw new IllegalArgumentException("key " + keyName + ": versions must satisfy 1 <= min ("
                    + minDecryptionVersion + ") <= latest (" + latestVersion + ")");
        }
    }

    /** The reference to the version that wraps new DEKs. */
    public KekRef current() {
        return new KekRef(provider, keyName, latestVersion);
    }
}
