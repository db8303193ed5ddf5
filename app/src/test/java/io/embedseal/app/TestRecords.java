package io.embedseal.app;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.StoredRecord;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Sealed records as a sink task hands them to its store, for tests that fill a store directly. */
public final class TestRecords {

    private TestRecords() {}

    /** The record of one embedding, sealed with {@code sealer}, and unsealed too if {@code unseal} (index mode). */
    public static StoredRecord stored(Sealer sealer, String tenant, String id, float[] v, boolean unseal) {
        List<Float> list = new ArrayList<>();
        for (float f : v) {
            list.add(f);
        }
        EmbeddingEvent e = EmbeddingEvent.newBuilder()
                .setTenantId(tenant)
                .setEmbeddingId(id)
                .setModel("m-" + v.length)
                .setVector(list)
                .setMetadata(Map.of())
                .setEventTime(Instant.EPOCH)
                .build();
        byte[] envelope = sealer.seal(
                tenant,
                id,
                RecordVersion.now(),
                PayloadType.EMBEDDING_EVENT_AVRO,
                EmbeddingEventCodec.toCanonicalAvro(e));
        SealedRecordKey key = new SealedRecordKey(tenant, id);
        return new StoredRecord(
                key,
                EnvelopeHeader.parse(envelope),
                envelope,
                unseal ? new EmbeddingUnsealer(sealer, null).unseal(key.toBytes(), envelope) : null,
                "embeddings.sealed",
                0,
                0);
    }
}
