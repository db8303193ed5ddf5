package io.embedseal.keyring.kms;

/** Every operation a {@link Kms} offers; used in metrics, audit events and capability checks. */
public enum KmsOperation {
    /** Wrap a DEK under the key's current version (the sealing path). */
    WRAP,
    /** Unwrap a stored DEK (the unsealing path). */
    UNWRAP,
    /** Read a key's versions and state. */
    DESCRIBE,
    /** Create a key (idempotent: an existing key is left as it is). */
    CREATE,
    /** Add a new key version that wraps from now on. */
    ROTATE,
    /** Refuse to unwrap under versions older than a given one (reversible). */
    RESTRICT,
    /** Refuse every use of the key until it is enabled again (revocation). */
    DISABLE,
    /** Undo {@link #DISABLE} (restoration). */
    ENABLE,
    /** Delete every version for good (crypto-shredding). */
    DESTROY;

    /** The operation as a verb in a sentence ("disable"). */
    public String verb() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Operations safe to repeat after an ambiguous failure (a timeout may hide a success). */
    public boolean isIdempotent() {
        return this != ROTATE;
    }
}
