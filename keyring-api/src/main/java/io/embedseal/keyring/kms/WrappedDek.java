package io.embedseal.keyring.kms;

import java.util.Arrays;
import java.util.Objects;

/**
 * A DEK as a KMS wrapped it, with the KEK version that did the wrapping. Safe to store anywhere; the bytes
 * are opaque and not secret, but {@link #toString()} prints only their length.
 *
 * @param kek     the KEK version that wrapped the DEK
 * @param wrapped the wrapped DEK, as the KMS returned it
 */
public record WrappedDek(KekRef kek, byte[] wrapped) {

    public WrappedDek {
        Objects.requireNonNull(kek, "kek");
        if (wrapped == null || wrapped.length == 0) {
            throw new IllegalArgumentException("wrapped DEK from " + kek + " is empty");
        }
        wrapped = wrapped.clone();
    }

    @Override
    public byte[] wrapped() {
        return wrapped.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WrappedDek w && kek.equals(w.kek) && Arrays.equals(wrapped, w.wrapped);
    }

    @Override
    public int hashCode() {
        return 31 * kek.hashCode() + Arrays.hashCode(wrapped);
    }

    @Override
    public String toString() {
        return "WrappedDek[kek=" + kek + ", " + wrapped.length + " bytes]";
    }
}
