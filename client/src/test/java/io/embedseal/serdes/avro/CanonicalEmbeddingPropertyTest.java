package io.embedseal.serdes.avro;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.validation.EmbeddingFacts;
import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.serdes.validation.ValidationLimits;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The in-place reader must never disagree with Avro's decoder: on any bytes it accepts, Avro decodes the same
 * embedding and validation gives the same verdict; on ordinary records (ASCII ids and metadata) it does accept, so
 * the pipeline's fast path is the path actually taken.
 */
class CanonicalEmbeddingPropertyTest {

    static final EmbeddingEventCodec CODEC;
    static final int SCHEMA_ID;
    static final EmbeddingValidator VALIDATOR =
            new EmbeddingValidator(ValidationLimits.defaults().withMaxDimensions(64));

    static {
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        SCHEMA_ID = registry.register("raw-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        CODEC = new EmbeddingEventCodec(registry);
    }

    @Provide
    Arbitrary<String> text() {
        return Arbitraries.oneOf(
                Arbitraries.strings().ascii().ofMaxLength(12),
                Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(8),
                Arbitraries.strings().all().ofMaxLength(6)); // any code points, unpaired surrogates included
    }

    @Provide
    Arbitrary<Float> floats() {
        return Arbitraries.oneOf(
                Arbitraries.floats().between(-2f, 2f),
                Arbitraries.of(
                        Float.NaN,
                        Float.POSITIVE_INFINITY,
                        Float.NEGATIVE_INFINITY,
                        -0f,
                        Float.MIN_VALUE,
                        Float.MAX_VALUE));
    }

    @Provide
    Arbitrary<EmbeddingEvent> events() {
        Arbitrary<List<Float>> vectors = floats().list().ofMaxSize(80);
        Arbitrary<Map<String, String>> metadata =
                Arbitraries.maps(text(), text()).ofMaxSize(5).injectNull(0.3);
        return Combinators.combine(text(), text(), text(), vectors, metadata, Arbitraries.longs())
                .as((t, id, model, v, meta, time) -> EmbeddingEvent.newBuilder()
                        .setTenantId(t)
                        .setEmbeddingId(id)
                        .setModel(model)
                        .setVector(new ArrayList<>(v))
                        .setMetadata(meta == null ? null : new HashMap<>(meta))
                        .setEventTime(Instant.ofEpochMilli(time))
                        .build());
    }

    static boolean ascii(String s) {
        return s.chars().allMatch(c -> c < 0x80);
    }

    @Property(tries = 3000)
    void encodedEvents_readInPlace_exactlyAsAvroDecodesThem(@ForAll("events") EmbeddingEvent event) {
        byte[] wire = EmbeddingEventCodec.encodeWire(SCHEMA_ID, event);
        EmbeddingEventCodec.Inspected fast = CODEC.inspect(wire);
        // As written (an unpaired surrogate is encoded as '?'), so judge by what Avro reads back.
        EmbeddingEvent written = CODEC.decode(wire).event();
        boolean allAscii = ascii(written.getTenantId())
                && ascii(written.getEmbeddingId())
                && ascii(written.getModel())
                && (written.getMetadata() == null
                        || written.getMetadata().entrySet().stream()
                                .allMatch(e -> ascii(e.getKey()) && ascii(e.getValue())));
        assertThat(fast != null).as("the fast path takes every ASCII record").isEqualTo(allAscii);
        if (fast != null) {
            sameAsAvro(wire, fast.embedding());
        }
    }

    @Property(tries = 5000)
    void mutatedBytes_theInPlaceReaderNeverAcceptsWhatAvroReadsDifferently(
            @ForAll("events") EmbeddingEvent event, @ForAll("mutations") List<int[]> mutations) {
        byte[] wire = EmbeddingEventCodec.encodeWire(SCHEMA_ID, event);
        byte[] mutated = wire.clone();
        int length = mutated.length;
        for (int[] m : mutations) {
            int at = EmbeddingEventCodec.PREFIX_LENGTH
                    + Math.floorMod(m[0], Math.max(1, length - EmbeddingEventCodec.PREFIX_LENGTH));
            switch (m[1]) {
                case 0 -> mutated[at] = (byte) m[2];
                case 1 -> mutated[at] ^= (byte) (1 << (m[2] & 7));
                default -> length = Math.max(EmbeddingEventCodec.PREFIX_LENGTH, at); // truncate
            }
        }
        byte[] input = java.util.Arrays.copyOf(mutated, length);
        EmbeddingEventCodec.Inspected fast = CODEC.inspect(input);
        net.jqwik.api.statistics.Statistics.collect(fast != null ? "accepted in place" : "left to Avro");
        if (fast != null) {
            sameAsAvro(input, fast.embedding());
        }
    }

    @Provide
    Arbitrary<List<int[]>> mutations() {
        Arbitrary<int[]> one = Combinators.combine(
                        Arbitraries.integers().between(0, 10_000),
                        Arbitraries.integers().between(0, 2),
                        Arbitraries.integers().between(0, 255))
                .as((a, b, c) -> new int[] {a, b, c});
        return one.list().ofMinSize(1).ofMaxSize(3);
    }

    /** Avro must decode the same bytes to the same facts, and validation must say the same. */
    static void sameAsAvro(byte[] wire, CanonicalEmbedding fast) {
        EmbeddingEventCodec.Decoded slow = CODEC.decode(wire); // must not throw: the fast path accepted these bytes
        EmbeddingFacts expected = EmbeddingFacts.of(slow.event());
        assertThat(fast.tenantId()).isEqualTo(expected.tenantId());
        assertThat(fast.embeddingId()).isEqualTo(expected.embeddingId());
        assertThat(fast.embeddingIdUtf8Bytes()).isEqualTo(expected.embeddingIdUtf8Bytes());
        assertThat(fast.model()).isEqualTo(expected.model());
        assertThat(fast.dimensions()).isEqualTo(expected.dimensions());
        assertThat(fast.firstNonFiniteIndex()).isEqualTo(expected.firstNonFiniteIndex());
        assertThat(fast.metadataEntries()).isEqualTo(expected.metadataEntries());
        assertThat(fast.metadataUtf8Bytes()).isEqualTo(expected.metadataUtf8Bytes());
        assertThat(VALIDATOR.check(fast)).isEqualTo(VALIDATOR.check(expected));
        assertThat(slow.canonicalWriter()).isTrue();
        assertThat(fast.offset()).isEqualTo(EmbeddingEventCodec.PREFIX_LENGTH);
        assertThat(fast.length()).isEqualTo(wire.length - EmbeddingEventCodec.PREFIX_LENGTH);
    }

    /** Metadata maps of any size: read in place up to 64 entries, left to Avro above; the same facts either way. */
    @Property(tries = 200)
    void largeMetadataMaps_readInPlaceOrLeftToAvro(@ForAll("bigMaps") Map<String, String> metadata) {
        EmbeddingEvent event = EmbeddingEvent.newBuilder()
                .setTenantId("acme")
                .setEmbeddingId("e")
                .setModel("m")
                .setVector(new ArrayList<>(List.of(1f, 2f)))
                .setMetadata(new HashMap<>(metadata))
                .setEventTime(Instant.ofEpochMilli(0))
                .build();
        byte[] wire = EmbeddingEventCodec.encodeWire(SCHEMA_ID, event);
        EmbeddingEventCodec.Inspected fast = CODEC.inspect(wire);
        assertThat(fast != null).isEqualTo(metadata.size() <= 64);
        if (fast != null) {
            sameAsAvro(wire, fast.embedding());
        }
    }

    @Provide
    Arbitrary<Map<String, String>> bigMaps() {
        return Arbitraries.maps(
                        Arbitraries.strings()
                                .withCharRange('a', 'z')
                                .ofMinLength(1)
                                .ofMaxLength(6),
                        Arbitraries.strings().ascii().ofMaxLength(4))
                .ofMaxSize(100);
    }

    /** A key written twice (Avro keeps the last value, so the map has fewer entries than written) is left to Avro. */
    @net.jqwik.api.Example
    void aRepeatedMetadataKey_isLeftToAvro() throws Exception {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.write(new byte[] {0, 0, 0, 0, (byte) SCHEMA_ID});
        org.apache.avro.io.BinaryEncoder e =
                org.apache.avro.io.EncoderFactory.get().binaryEncoder(out, null);
        e.writeString("acme");
        e.writeString("e-1");
        e.writeString("m");
        e.writeArrayStart();
        e.setItemCount(1);
        e.startItem();
        e.writeFloat(1f);
        e.writeArrayEnd();
        e.writeIndex(1);
        e.writeMapStart();
        e.setItemCount(3);
        for (String[] kv : new String[][] {{"k", "1"}, {"j", "2"}, {"k", "3"}}) {
            e.startItem();
            e.writeString(kv[0]);
            e.writeString(kv[1]);
        }
        e.writeMapEnd();
        e.writeLong(0);
        e.flush();
        byte[] wire = out.toByteArray();
        assertThat(SCHEMA_ID).isLessThan(128);

        assertThat(CODEC.inspect(wire)).isNull();
        assertThat(CODEC.decode(wire).event().getMetadata())
                .containsExactlyInAnyOrderEntriesOf(Map.of("k", "3", "j", "2"));
    }
}
