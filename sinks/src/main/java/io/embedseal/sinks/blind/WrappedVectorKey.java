package io.embedseal.sinks.blind;

import io.embedseal.keyring.kms.KekRef;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Objects;

/**
 * A tenant's vector key as a store keeps it: wrapped by the tenant's KEK, under associated data that binds the purpose,
 * the tenant, the key id and β ({@link #associatedData}), so no DEK or index key passes for a vector key, no tenant's key
 * for another's, and a store that changes β makes the key refuse to open.
 */
public record WrappedVectorKey(String tenant, byte[] id, double beta, KekRef kek, byte[] wrapped) {

    static final byte[] CONTEXT = "embedseal.vector-key.v1".getBytes(StandardCharsets.US_ASCII);

    public WrappedVectorKey {
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(kek, "kek");
        if (id.length != VectorKey.ID_BYTES) {
            throw new IllegalArgumentException("a vector key id has " + VectorKey.ID_BYTES + " bytes");
        }
        id = id.clone();
        wrapped = wrapped.clone();
    }

    @Override
    public byte[] id() {
        return id.clone();
    }

    @Override
    public byte[] wrapped() {
        return wrapped.clone();
    }

    public String idHex() {
        return HexFormat.of().formatHex(id);
    }

    /** "embedseal.vector-key.v1" | 0x00 | len(tenant) (1 byte) | tenant (UTF-8) | key id (16) | β (IEEE 754, BE). */
    public static byte[] associatedData(String tenant, byte[] id, double beta) {
        byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
        if (t.length > 255) {
            throw new IllegalArgumentException("tenant id too long");
        }
        return ByteBuffer.allocate(CONTEXT.length + 2 + t.length + id.length + 8)
                .put(CONTEXT)
                .put((byte) 0)
                .put((byte) t.length)
                .put(t)
                .put(id)
                .putDouble(beta)
                .array();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WrappedVectorKey w
                && tenant.equals(w.tenant)
                && java.util.Arrays.equals(id, w.id)
                && Double.compare(beta, w.beta) == 0
                && kek.equals(w.kek)
                && java.util.Arrays.equals(wrapped, w.wrapped);
    }

    @Override
    public int hashCode() {
        return Objects.hash(tenant, java.util.Arrays.hashCode(id), kek);
    }

    @Override
    public String toString() {
        return "WrappedVectorKey[" + tenant + ", " + idHex() + ", beta " + beta + ", under " + kek + "]";
    }
}
