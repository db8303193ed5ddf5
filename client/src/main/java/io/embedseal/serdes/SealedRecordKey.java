package io.embedseal.serdes;

import io.embedseal.keyring.TenantIds;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The key of every record on the sealed topic: {@code <tenantId>/<embeddingId>} in UTF-8. Tenant ids cannot
 * contain {@code /}, so the first slash separates the two; the embedding id may contain anything. Downstream
 * stores upsert on this pair, and a record's envelope must be bound to the same pair to open.
 *
 * @param tenantId    a valid tenant id
 * @param embeddingId a non-empty embedding id
 */
public record SealedRecordKey(String tenantId, String embeddingId) {

    public SealedRecordKey {
        TenantIds.requireValid(tenantId);
        Objects.requireNonNull(embeddingId, "embeddingId");
        if (embeddingId.isEmpty()) {
            throw new IllegalArgumentException("embedding id must not be empty");
        }
    }

    /** The key's bytes as written to Kafka. */
    public byte[] toBytes() {
        return (tenantId + "/" + embeddingId).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The key's bytes: {@code candidate} itself when it already is exactly them (a producer that keys its raw records
     * {@code tenant/embeddingId}, as the Python client and the demo do, and as the raw topic's deletes must), so the
     * pipeline makes no new array per record for the key; otherwise {@link #toBytes()}.
     */
    public byte[] toBytes(byte @Nullable [] candidate) {
        int t = tenantId.length();
        int e = embeddingId.length();
        if (candidate == null || candidate.length != t + 1 + e || candidate[t] != '/') {
            return toBytes();
        }
        for (int i = 0; i < t; i++) {
            char c = tenantId.charAt(i);
            if (c >= 0x80 || candidate[i] != (byte) c) {
                return toBytes();
            }
        }
        for (int i = 0; i < e; i++) {
            char c = embeddingId.charAt(i);
            if (c >= 0x80 || candidate[t + 1 + i] != (byte) c) {
                return toBytes();
            }
        }
        return candidate;
    }

    /**
     * Reads a sealed-topic key.
     *
     * @throws IllegalArgumentException if the key is missing or not of the form {@code tenant/embeddingId}
     */
    public static SealedRecordKey parse(byte[] key) {
        if (key == null) {
            throw new IllegalArgumentException("sealed record has no key; expected tenant/embeddingId");
        }
        String text = new String(key, StandardCharsets.UTF_8);
        int slash = text.indexOf('/');
        if (slash <= 0 || slash == text.length() - 1) {
            throw new IllegalArgumentException("sealed record key is not of the form tenant/embeddingId");
        }
        return new SealedRecordKey(text.substring(0, slash), text.substring(slash + 1));
    }

    @Override
    public String toString() {
        return tenantId + "/" + embeddingId;
    }
}
