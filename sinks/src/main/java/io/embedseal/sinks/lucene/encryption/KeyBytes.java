package io.embedseal.sinks.lucene.encryption;

import io.embedseal.keyring.dek.RawAesKey;
import java.util.Arrays;

/**
 * The one copy of an AES key embedseal keeps, and the view JCE is given ({@link RawAesKey}), so that {@link
 * #destroy()} zeroes it for good; a use after that fails instead of running under a zeroed key.
 */
final class KeyBytes {

    private final byte[] bytes;
    private final RawAesKey view;
    private volatile boolean destroyed;

    /** Takes ownership of {@code bytes}. */
    KeyBytes(byte[] bytes) {
        this.bytes = bytes;
        this.view = new RawAesKey(bytes);
    }

    /** The key for {@code Cipher.init}. */
    RawAesKey key() {
        requireLive();
        return view;
    }

    /** The bytes themselves, for a derivation; never handed out of this package. */
    byte[] raw() {
        requireLive();
        return bytes;
    }

    /** A copy the caller zeroes. */
    byte[] copy() {
        requireLive();
        return bytes.clone();
    }

    private void requireLive() {
        if (destroyed) {
            throw new IllegalStateException("key destroyed");
        }
    }

    void destroy() {
        destroyed = true;
        Arrays.fill(bytes, (byte) 0);
    }

    boolean isDestroyed() {
        return destroyed;
    }

    @Override
    public String toString() {
        return "KeyBytes[" + (destroyed ? "destroyed" : "<redacted>") + "]";
    }
}
