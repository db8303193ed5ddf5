package io.embedseal.serdes.validation;

import io.embedseal.schemas.EmbeddingEvent;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * What validation needs to know about an embedding, whether it was decoded into an {@link EmbeddingEvent} or read
 * in place from its canonical Avro bytes ({@link io.embedseal.serdes.avro.CanonicalEmbedding}): both give the
 * same answers, so both get the same verdict.
 */
public interface EmbeddingFacts {

    /** The tenant id, or null. */
    String tenantId();

    /** The embedding id, or null. */
    String embeddingId();

    /** The embedding id's length in UTF-8 bytes (0 when null). */
    int embeddingIdUtf8Bytes();

    String model();

    int dimensions();

    /** The index of the first NaN or infinite value, or -1 if all are finite. */
    int firstNonFiniteIndex();

    /** Metadata entries, or -1 when there is no metadata. */
    int metadataEntries();

    /** Metadata keys and values in UTF-8 bytes. */
    long metadataUtf8Bytes();

    /** The event time, milliseconds since the epoch (0 when absent). */
    long eventTimeMillis();

    /** The facts of a decoded event, computed when asked. */
    static EmbeddingFacts of(EmbeddingEvent event) {
        return new EmbeddingFacts() {
            @Override
            public String tenantId() {
                return event.getTenantId();
            }

            @Override
            public String embeddingId() {
                return event.getEmbeddingId();
            }

            @Override
            public int embeddingIdUtf8Bytes() {
                return utf8(event.getEmbeddingId());
            }

            @Override
            public String model() {
                return event.getModel();
            }

            @Override
            public int dimensions() {
                return event.getVector().size();
            }

            @Override
            public long eventTimeMillis() {
                return event.getEventTime() == null ? 0 : event.getEventTime().toEpochMilli();
            }

            @Override
            public int firstNonFiniteIndex() {
                List<Float> v = event.getVector();
                for (int i = 0; i < v.size(); i++) {
                    if (!Float.isFinite(v.get(i))) {
                        return i;
                    }
                }
                return -1;
            }

            @Override
            public int metadataEntries() {
                return event.getMetadata() == null ? -1 : event.getMetadata().size();
            }

            @Override
            public long metadataUtf8Bytes() {
                long bytes = 0;
                if (event.getMetadata() != null) {
                    for (Map.Entry<String, String> e : event.getMetadata().entrySet()) {
                        bytes += utf8(e.getKey()) + utf8(e.getValue());
                    }
                }
                return bytes;
            }

            private int utf8(String s) {
                return s == null ? 0 : s.getBytes(StandardCharsets.UTF_8).length;
            }
        };
    }
}
