package io.embedseal.keyring.dek;

import javax.crypto.SecretKey;

/**
 * An AES key backed by an array its owner keeps, so that zeroing that array leaves this object nothing to yield (a
 * {@code SecretKeySpec} keeps a copy of its own, and cannot be destroyed on JDK 17). Used for DEKs and the Lucene
 * sink's index keys. JCE still copies the bytes into each cipher it initialises; those copies live as long as the
 * cipher. Not serializable.
 */
public final class RawAesKey implements SecretKey {
    private static final long serialVersionUID = 1L;

    @SuppressWarnings("serial") // never serialized: writeObject refuses
    private final byte[] bytes;

    /** A view of {@code bytes}, which the caller owns and zeroes. */
    public RawAesKey(byte[] bytes) {
        this.bytes = bytes;
    }

    @Override
    public String getAlgorithm() {
        return "AES";
    }

    @Override
    public String getFormat() {
        return "RAW";
    }

    /** A copy, as the contract requires: providers may zero what they are given. */
    @Override
    public byte[] getEncoded() {
        return bytes.clone();
    }

    private void writeObject(java.io.ObjectOutputStream out) throws java.io.NotSerializableException {
        throw new java.io.NotSerializableException("a key is never serialized");
    }

    @Override
    public String toString() {
        return "RawAesKey[<redacted>]";
    }
}
