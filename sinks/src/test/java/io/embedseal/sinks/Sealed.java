package io.embedseal.sinks;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.serdes.envelope.Sealer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Real sealed records for sink tests: a local KMS in a directory, a keyring, a sealer and an unsealer. */
final class Sealed implements AutoCloseable {

    final Path kmsDir;
    final LocalKms kms;
    final Keyring keyring;
    final Sealer sealer;
    final EmbeddingUnsealer unsealer;

    Sealed(Path kmsDir) {
        this.kmsDir = kmsDir;
        this.kms = new LocalKms(kmsDir);
        this.keyring = Keyring.builder(kms).createMissingKeys(kms::createKek).build();
        this.sealer = new Sealer(keyring);
        this.unsealer = new EmbeddingUnsealer(sealer, null);
    }

    /**
     * Lucene indexes under {@code root} encrypted under index keys wrapped by this KMS (as the Lucene sink's are),
     * registered so that {@link TestIndexes} reads them.
     */
    io.embedseal.sinks.lucene.LuceneIndexes luceneIndexes(Path root) {
        TestIndexes.registerLocal(root, kmsDir);
        return io.embedseal.sinks.lucene.LuceneIndexes.encrypted(root, kms, keyring.naming(), 64 << 20);
    }

    /** Creates the tenant's KEK (as onboarding does) and returns its reference. */
    KekRef onboard(String tenant) {
        return kms.createKek(keyring.naming().kekNameFor(tenant));
    }

    static float[] randomVector(Random random, int dims) {
        float[] v = new float[dims];
        for (int i = 0; i < dims; i++) {
            v[i] = random.nextFloat() * 2 - 1;
        }
        return v;
    }

    static EmbeddingEvent event(String tenant, String id, float[] vector) {
        List<Float> list = new ArrayList<>(vector.length);
        for (float f : vector) {
            list.add(f);
        }
        return EmbeddingEvent.newBuilder()
                .setTenantId(tenant)
                .setEmbeddingId(id)
                .setModel("test-" + vector.length)
                .setVector(list)
                .setMetadata(Map.of("source", "sink-test"))
                .setEventTime(Instant.ofEpochMilli(1_764_000_000_000L))
                .build();
    }

    byte[] seal(String tenant, String id, float[] vector) {
        return seal(tenant, id, vector, RecordVersion.now());
    }

    byte[] seal(String tenant, String id, float[] vector, RecordVersion version) {
        return sealer.seal(
                tenant,
                id,
                version,
                PayloadType.EMBEDDING_EVENT_AVRO,
                EmbeddingEventCodec.toCanonicalAvro(event(tenant, id, vector)));
    }

    /** A record as the sink task hands it to a store; unsealed if {@code unseal}. */
    StoredRecord stored(String tenant, String id, float[] vector, boolean unseal, long offset) {
        return stored(tenant, id, vector, unseal, offset, RecordVersion.now());
    }

    /** A sealed delete marker as the sink task hands it to a store (authenticated). */
    StoredRecord marker(String tenant, String id, RecordVersion version) {
        byte[] envelope = sealer.sealDeleteMarker(tenant, id, version);
        SealedRecordKey key = new SealedRecordKey(tenant, id);
        return new StoredRecord(
                key, unsealer.authenticate(key.toBytes(), envelope), envelope, null, "embeddings.sealed", 0, 0);
    }

    /** A record of the given version as the sink task hands it to a store; unsealed if {@code unseal}. */
    StoredRecord stored(String tenant, String id, float[] vector, boolean unseal, long offset, RecordVersion version) {
        byte[] envelope = seal(tenant, id, vector, version);
        SealedRecordKey key = new SealedRecordKey(tenant, id);
        return new StoredRecord(
                key,
                EnvelopeHeader.parse(envelope),
                envelope,
                unseal ? unsealer.unseal(key.toBytes(), envelope) : null,
                "embeddings.sealed",
                0,
                offset);
    }

    @Override
    public void close() {
        kms.close();
    }
}
