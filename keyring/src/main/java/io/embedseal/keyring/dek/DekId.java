package io.embedseal.keyring.dek;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The identifier of a data-encryption key: 16 random bytes (drawn by {@link DekFactory}), unique with
 * overwhelming probability. Not a
 * secret; it is written into every envelope sealed with the key and shown in hex.
 */
public final class DekId {

    /** Length of every DEK id, in bytes. */
    public static final int LENGTH = 16;

    private final byte[] bytes;
    private final int hash;

    private DekId(byte[] bytes) {
        this.bytes = bytes;
        this.hash = Arrays.hashCode(bytes);
    }

    /**
     * An id read from an envelope.
     *
     * @throws IllegalArgumentException if {@code length} is not {@link #LENGTH} or the range is out of bounds
     */
    public static DekId of(byte[] source, int offset, int length) {
        if (length != LENGTH) {
            throw new IllegalArgumentException("DEK id must be " + LENGTH + " bytes, got " + length);
        }
        return new DekId(Arrays.copyOfRange(source, offset, offset + length));
    }

    /** Whether {@code source[offset, offset+16)} is this id, without copying it; false if the range is short. */
    public boolean matches(byte[] source, int offset) {
        return offset >= 0
                && offset <= source.length - LENGTH
                && Arrays.equals(bytes, 0, LENGTH, source, offset, offset + LENGTH);
    }

    /** A copy of the id bytes. */
    public byte[] toBytes() {
        return bytes.clone();
    }

    /** Writes the id into {@code target} at {@code offset}. */
    public void copyTo(byte[] target, int offset) {
        System.arraycopy(bytes, 0, target, offset, LENGTH);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DekId other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public String toString() {
        return HexFormat.of().formatHex(bytes);
    }
}
