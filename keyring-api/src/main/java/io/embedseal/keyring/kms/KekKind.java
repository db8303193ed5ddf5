package io.embedseal.keyring.kms;

import java.util.Locale;

/** What kind of key-encryption key a tenant has, and so who may wrap its data keys. */
public enum KekKind {
    /**
     * A secret key that never leaves the KMS: every wrap and every unwrap is a call to the KMS, so whoever seals
     * holds a credential that can also unwrap (the KMS's policy may split the two, the key cannot).
     */
    SYMMETRIC,
    /**
     * A key pair whose private half never leaves the KMS: data keys are wrapped locally with the public key (no KMS
     * call, no credential), and only the KMS can unwrap them. See {@link PublicKek}.
     */
    PUBLIC_KEY;

    /** The name used in options and settings: {@code symmetric}, {@code public-key}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** @throws IllegalArgumentException naming the accepted values */
    public static KekKind parse(String text) {
        for (KekKind k : values()) {
            if (k.label().equals(text)) {
                return k;
            }
        }
        throw new IllegalArgumentException("KEK kind must be symmetric or public-key, got: '" + text + "'");
    }
}
