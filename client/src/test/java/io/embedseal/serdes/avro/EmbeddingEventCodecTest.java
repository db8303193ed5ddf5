package io.embedseal.serdes.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.WireFormatException.Reason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.Test;

class EmbeddingEventCodecTest {

    private final InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
    private final EmbeddingEventCodec codec = new EmbeddingEventCodec(registry);

    static EmbeddingEvent event() {
        return EmbeddingEvent.newBuilder()
                .setTenantId("acme")
                .setEmbeddingId("doc-1#0")
                .setModel("test-model")
                .setVector(List.of(0.25f, -1.5f, 3.0f))
                .setMetadata(Map.of("lang", "en"))
                .setEventTime(Instant.ofEpochMilli(1_700_000_000_000L))
                .build();
    }

    @Test
    void wireFormat_roundTrips_andNamesItsSchemaId() {
        int id = registry.register("embeddings.raw-value", EmbeddingEventCodec.CANONICAL_SCHEMA);

        byte[] wire = EmbeddingEventCodec.encodeWire(id, event());
        EmbeddingEventCodec.Decoded decoded = codec.decode(wire);

        assertThat(wire[0]).isZero();
        assertThat(decoded.schemaId()).isEqualTo(id);
        assertThat(decoded.event()).isEqualTo(event());
        assertThat(decoded.canonicalWriter()).isTrue();
        assertThat(java.util.Arrays.copyOfRange(wire, EmbeddingEventCodec.PREFIX_LENGTH, wire.length))
                .isEqualTo(EmbeddingEventCodec.toCanonicalAvro(event()));
    }

    @Test
    void serializer_registersUnderTopicSubject() {
        byte[] wire = new EmbeddingEventSerializer(registry).serialize("embeddings.raw", event());

        assertThat(codec.decode(wire).event()).isEqualTo(event());
        assertThat(registry.register("embeddings.raw-value", EmbeddingEventCodec.CANONICAL_SCHEMA))
                .isEqualTo(1);
    }

    @Test
    void canonicalForm_roundTrips() {
        assertThat(EmbeddingEventCodec.fromCanonicalAvro(EmbeddingEventCodec.toCanonicalAvro(event())))
                .isEqualTo(event());
    }

    @Test
    void olderWriterSchemaWithoutMetadata_isResolvedToTheCanonicalSchema() throws IOException {
        Schema v0 = SchemaBuilder.record("EmbeddingEvent")
                .namespace("io.embedseal.schemas")
                .fields()
                .requiredString("tenantId")
                .requiredString("embeddingId")
                .requiredString("model")
                .name("vector")
                .type()
                .array()
                .items()
                .floatType()
                .noDefault()
                .name("eventTime")
                .type(org.apache.avro.LogicalTypes.timestampMillis().addToSchema(Schema.create(Schema.Type.LONG)))
                .noDefault()
                .endRecord();
        int id = registry.register("embeddings.raw-value", v0);
        GenericRecord r = new GenericData.Record(v0);
        r.put("tenantId", "acme");
        r.put("embeddingId", "e1");
        r.put("model", "m");
        r.put("vector", List.of(1f, 2f));
        r.put("eventTime", 5L);

        EmbeddingEventCodec.Decoded result = codec.decode(wire(id, v0, r));
        EmbeddingEvent decoded = result.event();

        assertThat(result.canonicalWriter()).isFalse();
        assertThat(decoded.getVector()).containsExactly(1f, 2f);
        assertThat(decoded.getMetadata()).isNull();
    }

    @Test
    void writerSchemaThatCannotBeRead_isIncompatible() throws IOException {
        Schema other = SchemaBuilder.record("Other").fields().requiredInt("x").endRecord();
        int id = registry.register("embeddings.raw-value", other);
        GenericRecord r = new GenericData.Record(other);
        r.put("x", 1);

        assertThatThrownBy(() -> codec.decode(wire(id, other, r)))
                .isInstanceOfSatisfying(WireFormatException.class, e -> {
                    assertThat(e.reason()).isEqualTo(Reason.INCOMPATIBLE_SCHEMA);
                    assertThat(e.schemaId()).isEqualTo(id);
                });
    }

    @Test
    void shortInput_isTruncated() {
        assertReason(new byte[] {0, 0, 0}, Reason.TRUNCATED);
        assertReason(new byte[0], Reason.TRUNCATED);
    }

    @Test
    void otherFirstByte_isWrongMagic() {
        byte[] wire =
                EmbeddingEventCodec.encodeWire(registry.register("s", EmbeddingEventCodec.CANONICAL_SCHEMA), event());
        wire[0] = 1;
        assertReason(wire, Reason.WRONG_MAGIC_BYTE);
    }

    @Test
    void unregisteredSchemaId_isUnknown() {
        assertReason(EmbeddingEventCodec.encodeWire(42, event()), Reason.UNKNOWN_SCHEMA_ID);
    }

    @Test
    void everyTruncationOfTheBody_isUndecodable() {
        byte[] wire =
                EmbeddingEventCodec.encodeWire(registry.register("s", EmbeddingEventCodec.CANONICAL_SCHEMA), event());
        for (int len = EmbeddingEventCodec.PREFIX_LENGTH; len < wire.length; len++) {
            assertReason(java.util.Arrays.copyOf(wire, len), Reason.UNDECODABLE);
        }
    }

    @Test
    void trailingBytes_areUndecodable() {
        byte[] wire =
                EmbeddingEventCodec.encodeWire(registry.register("s", EmbeddingEventCodec.CANONICAL_SCHEMA), event());
        assertReason(java.util.Arrays.copyOf(wire, wire.length + 1), Reason.UNDECODABLE);
    }

    @Test
    void hugeDeclaredArrayLength_failsWithoutAllocatingIt() {
        // tenantId "a", embeddingId "b", model "c", then an array block claiming 2^30 floats and holding one.
        int id = registry.register("s", EmbeddingEventCodec.CANONICAL_SCHEMA);
        byte[] body = concat(str("a"), str("b"), str("c"), varLong(1L << 30), new byte[] {0, 0, (byte) 0x80, 0x3f});
        long before = usedHeap();

        assertReason(prefixed(id, body), Reason.UNDECODABLE);

        assertThat(usedHeap() - before).as("heap growth").isLessThan(64L << 20);
    }

    @Test
    void hugeDeclaredMapSize_failsWithoutAllocatingIt() {
        int id = registry.register("s", EmbeddingEventCodec.CANONICAL_SCHEMA);
        // empty vector, then metadata union branch 1 (map) with a block claiming 2^30 entries.
        byte[] body =
                concat(str("a"), str("b"), str("c"), varLong(0), varLong(1), varLong(1L << 30), str("k"), str("v"));

        assertReason(prefixed(id, body), Reason.UNDECODABLE);
    }

    @Test
    void hugeDeclaredStringLength_failsWithoutAllocatingIt() {
        int id = registry.register("s", EmbeddingEventCodec.CANONICAL_SCHEMA);
        byte[] body = concat(varLong(Integer.MAX_VALUE - 16L), new byte[] {'a', 'b'});

        assertReason(prefixed(id, body), Reason.UNDECODABLE);
    }

    private void assertReason(byte[] value, Reason reason) {
        assertThatThrownBy(() -> codec.decode(value))
                .isInstanceOfSatisfying(
                        WireFormatException.class, e -> assertThat(e.reason()).isEqualTo(reason));
    }

    private static byte[] wire(int id, Schema schema, GenericRecord record) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder enc = EncoderFactory.get().directBinaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, enc);
        enc.flush();
        return prefixed(id, out.toByteArray());
    }

    static byte[] prefixed(int id, byte[] body) {
        return concat(new byte[] {0, (byte) (id >>> 24), (byte) (id >>> 16), (byte) (id >>> 8), (byte) id}, body);
    }

    static byte[] str(String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return concat(varLong(b.length), b);
    }

    static byte[] varLong(long v) {
        long z = (v << 1) ^ (v >> 63);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((z & ~0x7FL) != 0) {
            out.write((int) ((z & 0x7F) | 0x80));
            z >>>= 7;
        }
        out.write((int) z);
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static long usedHeap() {
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }
}
