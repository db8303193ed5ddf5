package io.embedseal.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.UnsealedEmbedding;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.DeadLetters;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import io.embedseal.topology.TopicNames;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.RandomGenerator;
import net.jqwik.api.sessions.JqwikSession;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Item 4: hostile bytes on the raw topic. Random bytes, a wrong magic byte, unknown schema ids, truncated Avro, huge
 * declared array and string lengths, NaN and infinity, invalid UTF-8 and otherwise invalid ids, oversize metadata,
 * mutations of valid records, and valid records among them: 14,000 cases (about 10,400 hostile) from jqwik generators (seeded; the seed is
 * printed). The pipeline never stops, and every record is either sealed or dead-lettered with a reason: produced =
 * sealed + dead-lettered, and each dead letter points at its own source offset.
 */
@Tag("reliability")
@Order(20)
class HostileInputTest {

    static final int CASES = 14_000;
    static final int TENANTS = 4;
    static final int MAX_DIMS = 256;

    @TempDir
    Path dir;

    enum Kind {
        VALID,
        RANDOM_BYTES,
        WRONG_MAGIC,
        UNKNOWN_SCHEMA,
        TRUNCATED,
        HUGE_LENGTH,
        NON_FINITE,
        BAD_UTF8_ID,
        INVALID_ID,
        OVERSIZE_METADATA,
        TOO_MANY_DIMENSIONS,
        UNKNOWN_TENANT,
        BIT_FLIPS,
        EMPTY_OR_NULL
    }

    @Test
    void hostileRecords_neverStopThePipeline_andEachIsSealedOrDeadLettered() throws Exception {
        String bootstrap = EmbeddedKafkaBroker.shared().bootstrapServers();
        String prefix = "hostile-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        TopicNames topics = Suite.topics(EmbeddedKafkaBroker.shared(), prefix, 3);
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        int schemaId = registry.register(topics.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        long seed = new Random().nextLong();
        Random random = new Random(seed);

        PipelineConfig config = PipelineConfig.of(
                Suite.pipelineSettings(
                        bootstrap,
                        prefix + "app",
                        topics,
                        dir.resolve("state"),
                        "mock://unused",
                        dir.resolve("kms"),
                        Map.of("validation.max-dimensions", Integer.toString(MAX_DIMS))),
                n -> null);
        Map<Kind, Integer> produced = new EnumMap<>(Kind.class);
        Map<Long, Kind> kindByOffset = new HashMap<>();
        int deletes = 0;
        try (LocalKms kms = new LocalKms(dir.resolve("kms"));
                KafkaProducer<byte[], byte[]> producer = Suite.producer(bootstrap);
                EmbedsealPipeline pipeline = EmbedsealPipeline.create(config, registry)) {
            for (int t = 0; t < TENANTS; t++) {
                Suite.register(producer, topics, kms, Suite.tenant(t));
            }
            pipeline.start();
            Set<String> threadsAtStart = threadNames(pipeline);

            List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> sends =
                    new ArrayList<>();
            List<Kind> kinds = new ArrayList<>();
            JqwikSession.start(); // jqwik's generators outside a property
            try {
                Generator generator = new Generator(schemaId, random);
                for (int i = 0; i < CASES; i++) {
                    Generator.Case c = generator.next(i);
                    kinds.add(c.kind());
                    if (c.kind() == Kind.EMPTY_OR_NULL && c.value() == null) {
                        deletes++; // keyed tenant/embeddingId: a delete, sealed as a delete marker
                    }
                    produced.merge(c.kind(), 1, Integer::sum);
                    sends.add(producer.send(new ProducerRecord<>(topics.raw(), random.nextInt(3), c.key(), c.value())));
                }
            } finally {
                JqwikSession.finish();
            }
            producer.flush();
            for (int i = 0; i < sends.size(); i++) {
                var m = sends.get(i).get();
                kindByOffset.put(m.partition() * 1_000_000_000L + m.offset(), kinds.get(i));
            }
            // A last, ordinary record: it must still be sealed after everything above.
            EmbeddingEvent canary = Suite.event(999_999, TENANTS, 16);
            producer.send(new ProducerRecord<>(topics.raw(), 0, Suite.key(canary), Suite.wire(schemaId, canary)))
                    .get();

            Suite.awaitCommittedToEnd(bootstrap, prefix + "app", topics.raw(), Duration.ofMinutes(3));
            List<ConsumerRecord<byte[], byte[]>> sealed = Suite.readCommitted(bootstrap, topics.sealed());
            List<ConsumerRecord<byte[], byte[]>> dead = Suite.readCommitted(bootstrap, topics.dlq());

            assertThat(pipeline.streams().state())
                    .as("the pipeline is still running")
                    .isEqualTo(KafkaStreams.State.RUNNING);
            assertThat(threadNames(pipeline))
                    .as("no stream thread died and was replaced")
                    .isEqualTo(threadsAtStart);
            assertThat(sealed.size() + dead.size())
                    .as("produced = sealed + dead-lettered")
                    .isEqualTo(CASES + 1);

            // Every dead letter has a reason and names its own source record, each one once.
            Map<String, Integer> reasons = new TreeMap<>();
            Map<Kind, Integer> deadByKind = new EnumMap<>(Kind.class);
            Set<Long> sources = new HashSet<>();
            for (ConsumerRecord<byte[], byte[]> d : dead) {
                String reason = header(d, DeadLetters.REASON_HEADER);
                assertThat(reason).as("dead letter without a reason").isNotBlank();
                reasons.merge(reason, 1, Integer::sum);
                assertThat(header(d, DeadLetters.SOURCE_TOPIC_HEADER)).isEqualTo(topics.raw());
                long source = Long.parseLong(header(d, DeadLetters.SOURCE_PARTITION_HEADER)) * 1_000_000_000L
                        + Long.parseLong(header(d, DeadLetters.SOURCE_OFFSET_HEADER));
                assertThat(sources.add(source))
                        .as("one dead letter per source record")
                        .isTrue();
                Kind kind = kindByOffset.get(source);
                assertThat(kind)
                        .as("dead letter for a record that was never produced")
                        .isNotNull();
                deadByKind.merge(kind, 1, Integer::sum);
            }
            assertThat(deadByKind.getOrDefault(Kind.VALID, 0))
                    .as("valid records of registered tenants are sealed")
                    .isZero();
            for (Kind k : List.of(
                    Kind.RANDOM_BYTES,
                    Kind.WRONG_MAGIC,
                    Kind.UNKNOWN_SCHEMA,
                    Kind.TRUNCATED,
                    Kind.HUGE_LENGTH,
                    Kind.NON_FINITE,
                    Kind.BAD_UTF8_ID,
                    Kind.OVERSIZE_METADATA,
                    Kind.TOO_MANY_DIMENSIONS,
                    Kind.UNKNOWN_TENANT,
                    Kind.EMPTY_OR_NULL)) {
                assertThat(deadByKind.getOrDefault(k, 0))
                        .as(k + " records are all dead-lettered (seed " + seed + ")")
                        .isEqualTo(produced.getOrDefault(k, 0) - (k == Kind.EMPTY_OR_NULL ? deletes : 0));
            }

            // What was sealed opens, under a registered tenant's key, as a valid embedding.
            EmbeddingUnsealer unsealer =
                    new EmbeddingUnsealer(new Sealer(Keyring.builder(kms).build()), null);
            Set<String> tenants = new HashSet<>();
            for (int t = 0; t < TENANTS; t++) {
                tenants.add(Suite.tenant(t));
            }
            int markers = 0;
            for (ConsumerRecord<byte[], byte[]> r : sealed) {
                if (io.embedseal.serdes.envelope.EnvelopeHeader.parse(r.value()).payloadType()
                        == io.embedseal.serdes.envelope.PayloadType.DELETE_MARKER) {
                    assertThat(tenants)
                            .contains(unsealer.authenticate(r.key(), r.value()).tenantId());
                    markers++;
                    continue;
                }
                UnsealedEmbedding u = unsealer.unseal(r.key(), r.value());
                assertThat(tenants).contains(u.tenantId());
                assertThat(u.event().getVector())
                        .isNotEmpty()
                        .hasSizeLessThanOrEqualTo(MAX_DIMS)
                        .allMatch(Float::isFinite);
            }
            assertThat(markers)
                    .as("a null value keyed tenant/embeddingId is a sealed delete")
                    .isEqualTo(deletes);
            assertThat(sealed)
                    .anyMatch(r -> Arrays.equals(
                            r.key(),
                            (canary.getTenantId() + "/" + canary.getEmbeddingId()).getBytes(StandardCharsets.UTF_8)));
            for (ConsumerRecord<byte[], byte[]> d : dead) {
                assertThat(Suite.VECTORS.scan(d.value()))
                        .as("plaintext vector in a dead letter")
                        .isZero();
            }
            Suite.rememberLocalKeks(dir.resolve("kms"));
            Suite.rememberDek(kms, sealed.get(0).value());
            System.out.printf(
                    "hostile input: seed %d; %d records (%s); sealed %d, dead-lettered %d by reason %s%n",
                    seed, CASES + 1, produced, sealed.size(), dead.size(), reasons);
        }
    }

    private static Set<String> threadNames(EmbedsealPipeline pipeline) {
        Set<String> names = new HashSet<>();
        pipeline.streams().metadataForLocalThreads().forEach(t -> names.add(t.threadName()));
        return names;
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** jqwik generators for each kind of input, driven by one seeded Random. */
    static final class Generator {
        record Case(Kind kind, byte[] key, byte[] value) {}

        private static final org.apache.avro.io.EncoderFactory AVRO = org.apache.avro.io.EncoderFactory.get();

        private final int schemaId;
        private final Random random;
        private final RandomGenerator<Kind> kinds;
        private final RandomGenerator<byte[]> randomBytes;
        private final RandomGenerator<EmbeddingEvent> events;
        private final RandomGenerator<String> badIds;

        Generator(int schemaId, Random random) {
            this.schemaId = schemaId;
            this.random = random;
            this.kinds = Arbitraries.frequencyOf(
                            net.jqwik.api.Tuple.of(1, Arbitraries.just(Kind.VALID)),
                            net.jqwik.api.Tuple.of(4, Arbitraries.of(Kind.class)))
                    .generator(1000); // about 3 in 4 hostile
            this.randomBytes =
                    Arbitraries.bytes().array(byte[].class).ofMaxSize(600).generator(1000);
            Arbitrary<Float> floats = Arbitraries.oneOf(
                    Arbitraries.floats().between(-4f, 4f),
                    Arbitraries.of(-0f, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE));
            Arbitrary<List<Float>> vectors = floats.list().ofMinSize(1).ofMaxSize(64);
            Arbitrary<Map<String, String>> metadata = Arbitraries.maps(
                            Arbitraries.strings().alpha().ofMinLength(1).ofMaxLength(12),
                            Arbitraries.strings().all().ofMaxLength(20))
                    .ofMaxSize(4)
                    .injectNull(0.5);
            this.events = Combinators.combine(
                            Arbitraries.integers().between(0, TENANTS - 1),
                            Arbitraries.strings()
                                    .withCharRange('a', 'z')
                                    .numeric()
                                    .withChars("-_.:")
                                    .ofMinLength(1)
                                    .ofMaxLength(40),
                            vectors,
                            metadata,
                            // Any time up to now: one further ahead than validation.max-event-time-ahead-seconds is
                            // dead-lettered (EVENT_TIME_AHEAD), since it would freeze the record in the stores.
                            Arbitraries.longs().between(0, System.currentTimeMillis()))
                    .as((t, id, v, m, time) -> EmbeddingEvent.newBuilder()
                            .setTenantId(Suite.tenant(t))
                            .setEmbeddingId(id)
                            .setModel("m")
                            .setVector(new ArrayList<>(v))
                            .setMetadata(m == null ? null : new HashMap<>(m))
                            .setEventTime(Instant.ofEpochMilli(time))
                            .build())
                    .generator(1000);
            this.badIds = Arbitraries.oneOf(
                            Arbitraries.strings().all().ofMinLength(1).ofMaxLength(30),
                            Arbitraries.strings()
                                    .withChars(" /\\\u0000\n\t\u202e")
                                    .ofMinLength(1)
                                    .ofMaxLength(5),
                            Arbitraries.strings().alpha().ofMinLength(300).ofMaxLength(600))
                    .generator(1000);
        }

        Case next(int i) {
            Kind kind = kinds.next(random).value();
            EmbeddingEvent e = events.next(random).value();
            e = EmbeddingEvent.newBuilder(e)
                    .setEmbeddingId(e.getEmbeddingId() + "-" + i)
                    .build(); // distinct ids among the valid ones
            byte[] valid = EmbeddingEventCodec.encodeWire(schemaId, e);
            byte[] key = (e.getTenantId() + "/" + e.getEmbeddingId()).getBytes(StandardCharsets.UTF_8);
            if (kind == Kind.VALID || kind == Kind.NON_FINITE) {
                Suite.VECTORS.add(e.getVector());
            }
            return switch (kind) {
                case VALID -> new Case(kind, key, valid);
                case RANDOM_BYTES ->
                    new Case(kind, null, randomBytes.next(random).value());
                case WRONG_MAGIC -> {
                    valid[0] = (byte) (1 + random.nextInt(255));
                    yield new Case(kind, key, valid);
                }
                case UNKNOWN_SCHEMA -> {
                    ByteBuffer.wrap(valid, 1, 4).putInt(schemaId + 1 + random.nextInt(1_000_000));
                    yield new Case(kind, key, valid);
                }
                case TRUNCATED -> new Case(kind, key, Arrays.copyOf(valid, 1 + random.nextInt(valid.length - 1)));
                case HUGE_LENGTH -> new Case(kind, key, hugeLength(e));
                case NON_FINITE -> {
                    List<Float> v = new ArrayList<>(e.getVector());
                    float[] bad = {
                        Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7F80_0001)
                    };
                    v.set(random.nextInt(v.size()), bad[random.nextInt(bad.length)]);
                    e = EmbeddingEvent.newBuilder(e).setVector(v).build();
                    yield new Case(kind, key, EmbeddingEventCodec.encodeWire(schemaId, e));
                }
                case BAD_UTF8_ID -> new Case(kind, key, badUtf8(e));
                case INVALID_ID -> {
                    String bad = badIds.next(random).value();
                    if (random.nextBoolean()) {
                        e = EmbeddingEvent.newBuilder(e).setTenantId(bad).build();
                    } else {
                        e = EmbeddingEvent.newBuilder(e).setEmbeddingId(bad).build();
                    }
                    yield new Case(kind, key, EmbeddingEventCodec.encodeWire(schemaId, e));
                }
                case OVERSIZE_METADATA -> {
                    Map<String, String> m = new HashMap<>();
                    int entries = random.nextBoolean() ? 1_000 + random.nextInt(2_000) : 2;
                    int valueLength = entries > 2 ? 8 : 70_000 + random.nextInt(100_000);
                    for (int k = 0; k < entries; k++) {
                        m.put("k" + k, "v".repeat(valueLength));
                    }
                    e = EmbeddingEvent.newBuilder(e).setMetadata(m).build();
                    yield new Case(kind, key, EmbeddingEventCodec.encodeWire(schemaId, e));
                }
                case TOO_MANY_DIMENSIONS -> {
                    List<Float> v = new ArrayList<>();
                    for (int d = 0; d < MAX_DIMS + 1 + random.nextInt(2_000); d++) {
                        v.add(0.5f);
                    }
                    e = EmbeddingEvent.newBuilder(e).setVector(v).build();
                    yield new Case(kind, key, EmbeddingEventCodec.encodeWire(schemaId, e));
                }
                case UNKNOWN_TENANT -> {
                    e = EmbeddingEvent.newBuilder(e)
                            .setTenantId("stranger-" + random.nextInt(100))
                            .build();
                    yield new Case(kind, key, EmbeddingEventCodec.encodeWire(schemaId, e));
                }
                case BIT_FLIPS -> {
                    int flips = 1 + random.nextInt(8);
                    for (int f = 0; f < flips; f++) {
                        int bit = random.nextInt(valid.length * 8);
                        valid[bit / 8] ^= (byte) (1 << (bit % 8));
                    }
                    yield new Case(kind, key, valid);
                }
                case EMPTY_OR_NULL -> new Case(kind, key, random.nextBoolean() ? null : new byte[0]);
            };
        }

        /** The record with its vector's block count (or a string length) declared far larger than the bytes that follow. */
        private byte[] hugeLength(EmbeddingEvent e) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(0);
            out.writeBytes(ByteBuffer.allocate(4).putInt(schemaId).array());
            long huge = random.nextBoolean() ? Integer.MAX_VALUE : (1L << 40) + random.nextInt(1000);
            if (random.nextBoolean()) {
                writeLong(out, huge); // tenant id "length"
                out.writeBytes("abc".getBytes(StandardCharsets.US_ASCII));
            } else {
                writeString(out, e.getTenantId());
                writeString(out, e.getEmbeddingId());
                writeString(out, "m");
                writeLong(out, huge); // vector block count
                out.writeBytes(ByteBuffer.allocate(16)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putFloat(1f)
                        .putFloat(2f)
                        .array());
            }
            return out.toByteArray();
        }

        /** The record with an id whose bytes are not UTF-8 (a lone continuation byte, an overlong form, a surrogate). */
        private byte[] badUtf8(EmbeddingEvent e) {
            byte[][] bad = {
                {(byte) 0x80}, {(byte) 0xC0, (byte) 0xAF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xFF}
            };
            byte[] b = bad[random.nextInt(bad.length)];
            byte[] id = new byte[3 + b.length];
            id[0] = 'd';
            id[1] = 'o';
            System.arraycopy(b, 0, id, 2, b.length);
            id[id.length - 1] = 'c';
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(0);
            out.writeBytes(ByteBuffer.allocate(4).putInt(schemaId).array());
            boolean tenant = random.nextBoolean();
            writeBytes(out, tenant ? id : e.getTenantId().getBytes(StandardCharsets.UTF_8));
            writeBytes(out, tenant ? e.getEmbeddingId().getBytes(StandardCharsets.UTF_8) : id);
            byte[] rest = EmbeddingEventCodec.toCanonicalAvro(e);
            // skip the canonical tenant and id (two Avro strings) and append the rest of the record as it is
            int pos = skipString(rest, skipString(rest, 0));
            out.write(rest, pos, rest.length - pos);
            return out.toByteArray();
        }

        private static int skipString(byte[] avro, int pos) {
            long raw = 0;
            int shift = 0;
            int b;
            do {
                b = avro[pos++] & 0xFF;
                raw |= (long) (b & 0x7F) << shift;
                shift += 7;
            } while ((b & 0x80) != 0);
            long length = (raw >>> 1) ^ -(raw & 1);
            return pos + (int) length;
        }

        private static void writeString(ByteArrayOutputStream out, String s) {
            writeBytes(out, s.getBytes(StandardCharsets.UTF_8));
        }

        private static void writeBytes(ByteArrayOutputStream out, byte[] b) {
            try {
                AVRO.directBinaryEncoder(out, null).writeBytes(b); // length as a zig-zag varint, then the bytes
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        private static void writeLong(ByteArrayOutputStream out, long v) {
            try {
                AVRO.directBinaryEncoder(out, null).writeLong(v);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }
}
