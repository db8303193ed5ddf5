package io.embedseal.app.ops;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.topology.DeadLetterReason;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Deterministic synthetic embeddings for the demo and {@code embedseal produce}: valid ones (unit-length random
 * vectors) and, for the demo, one of each deliberately invalid kind.
 */
public final class SyntheticEmbeddings {

    private static final String[] NAMES = {"acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell"
    };

    private final Random random;
    private final int dims;

    public SyntheticEmbeddings(long seed, int dims) {
        this.random = new Random(seed);
        this.dims = dims;
    }

    public static List<String> tenantNames(int count) {
        List<String> names = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            names.add(i < NAMES.length ? NAMES[i] : "tenant-" + (i + 1));
        }
        return names;
    }

    /** A unit-length random vector, as embedding models produce. */
    List<Float> vector() {
        float[] v = new float[dims];
        double norm = 0;
        for (int i = 0; i < dims; i++) {
            v[i] = (float) random.nextGaussian();
            norm += v[i] * v[i];
        }
        List<Float> out = new ArrayList<>(dims);
        float scale = (float) (1 / Math.sqrt(norm));
        for (float x : v) {
            out.add(x * scale);
        }
        return out;
    }

    public EmbeddingEvent event(String tenant, int index) {
        return EmbeddingEvent.newBuilder()
                .setTenantId(tenant)
                .setEmbeddingId(String.format("doc-%06d#chunk-%d", index / 4, index % 4))
                .setModel("demo-embed-" + dims)
                .setVector(vector())
                .setMetadata(Map.of("source", "embedseal-demo", "chunk", Integer.toString(index % 4)))
                .setEventTime(Instant.now())
                .build();
    }

    /** A raw record that must be dead-lettered, with the reason it must get. */
    public record Invalid(String name, DeadLetterReason expected, byte[] value, List<Float> vector) {}

    /** One record of each invalid kind; the vector each one carries is returned so scans can look for it. */
    public List<Invalid> invalidRecords(String tenant, int schemaId) {
        List<Invalid> out = new ArrayList<>();
        EmbeddingEvent base = event(tenant, 999_999);

        List<Float> jsonVector = vector();
        out.add(new Invalid(
                "json-instead-of-avro",
                DeadLetterReason.WRONG_MAGIC_BYTE,
                ("{\"tenantId\":\"" + tenant + "\",\"vector\":" + jsonVector + "}").getBytes(StandardCharsets.UTF_8),
                jsonVector));

        EmbeddingEvent unknown = withVector(base, vector());
        out.add(new Invalid(
                "unknown-schema-id",
                DeadLetterReason.UNKNOWN_SCHEMA_ID,
                EmbeddingEventCodec.encodeWire(schemaId + 4242, unknown),
                unknown.getVector()));

        EmbeddingEvent truncated = withVector(base, vector());
        byte[] full = EmbeddingEventCodec.encodeWire(schemaId, truncated);
        out.add(new Invalid(
                "truncated-avro",
                DeadLetterReason.UNDECODABLE,
                Arrays.copyOf(full, full.length / 2),
                truncated.getVector()));

        EmbeddingEvent noTenant = EmbeddingEvent.newBuilder(withVector(base, vector()))
                .setTenantId("")
                .build();
        out.add(wire("missing-tenant", DeadLetterReason.MISSING_TENANT, schemaId, noTenant));

        EmbeddingEvent badTenant = EmbeddingEvent.newBuilder(withVector(base, vector()))
                .setTenantId("../" + tenant)
                .build();
        out.add(wire("invalid-tenant-id", DeadLetterReason.INVALID_TENANT_ID, schemaId, badTenant));

        EmbeddingEvent noId = EmbeddingEvent.newBuilder(withVector(base, vector()))
                .setEmbeddingId("")
                .build();
        out.add(wire("missing-embedding-id", DeadLetterReason.MISSING_EMBEDDING_ID, schemaId, noId));

        out.add(wire("empty-vector", DeadLetterReason.EMPTY_VECTOR, schemaId, withVector(base, List.of())));

        List<Float> nan = vector();
        nan.set(dims / 2, Float.NaN);
        out.add(wire("nan-value", DeadLetterReason.NON_FINITE_VALUE, schemaId, withVector(base, nan)));

        List<Float> inf = vector();
        inf.set(0, Float.POSITIVE_INFINITY);
        out.add(wire("infinite-value", DeadLetterReason.NON_FINITE_VALUE, schemaId, withVector(base, inf)));
        return out;
    }

    private static Invalid wire(String name, DeadLetterReason expected, int schemaId, EmbeddingEvent e) {
        return new Invalid(name, expected, EmbeddingEventCodec.encodeWire(schemaId, e), e.getVector());
    }

    private static EmbeddingEvent withVector(EmbeddingEvent e, List<Float> vector) {
        return EmbeddingEvent.newBuilder(e).setVector(vector).build();
    }
}
