package io.embedseal.sinks;

import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.UnsealedEmbedding;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import org.jspecify.annotations.Nullable;

/**
 * One sealed record on its way into a store.
 *
 * @param key             tenant and embedding id, checked against the envelope's header
 * @param header          the envelope's parsed header (KEK reference, DEK id)
 * @param envelope        the sealed bytes, as read from the topic
 * @param opened          the unsealed embedding when the store needs it (index mode), else null
 * @param sourceTopic     where the record came from
 * @param sourcePartition its partition
 * @param sourceOffset    its offset
 */
public record StoredRecord(
        SealedRecordKey key,
        EnvelopeHeader header,
        byte[] envelope,
        @Nullable UnsealedEmbedding opened,
        String sourceTopic,
        int sourcePartition,
        long sourceOffset) {

    /** The plaintext vector (index mode only). */
    /** The unsealed event (index mode only). */
    public UnsealedEmbedding unsealed() {
        if (opened == null) {
            throw new IllegalStateException("the record was not unsealed");
        }
        return opened;
    }

    public float[] vector() {
        if (opened == null) {
            throw new IllegalStateException("the record was not unsealed");
        }
        java.util.List<Float> v = opened.event().getVector();
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i);
        }
        return out;
    }

    @Override
    public String toString() {
        return "StoredRecord[" + key + " from " + sourceTopic + "-" + sourcePartition + "@" + sourceOffset + "]";
    }
}
