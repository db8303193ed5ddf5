package io.embedseal.sinks.lucene.encryption;

import java.util.Arrays;
import javax.crypto.SecretKey;

/**
 * An AES key as JCE sees it, over an array this object owns, so that {@link #destroy()} zeroes the one copy embedseal
 * keeps (a {@link javax.crypto.spec.SecretKeySpec} keeps a private copy nobody can erase). JCE still copies the bytes
 * into each cipher it initialises; those copies live as long as the cipher.
 */
final class KeyBytes implements SecretKey {

    private static final long serialVersionUID = 1L;

    private final transient byte[] bytes;
    private volatile boolean destroyed;

    /** Takes ownership of {@code bytes}. */
    KeyBytes(byte[] bytes) {
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

    @Override
    public byte[] getEncoded() {
        if (destroyed) {
            throw new IllegalStateException("key destroyed");
        }
        return bytes.clone();
    }

    /** The bytes themselves, for a derivation; never handed out of this package. */
    byte[] raw() {
        if (destroyed) {
            throw new IllegalStateException("key destroyed");
        }
        return bytes;
    }

    @Override
    public void destroy() {
        destroyed = true;
        Arrays.fill(bytes, (byte) 0);
    }

    @Override
    public boolean isDestroyed() {
        return destroyed;
    }

    @Override
    public String toString() {
        return "KeyBytes[" + (destroyed ? "destroyed" : "AES-" + bytes.length * 8) + "]";
    }
}
