package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.envelope.Unsealed;
import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.serdes.validation.ValidationLimits;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class EmbedsealTopologyTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private InMemorySchemaRegistry registry;
    private int schemaId;
    private TopologyTestDriver driver;
    private EmbedsealTopology.Parts parts;
    private LocalKms localKms;
    private TestInputTopic<String, byte[]> keyEvents;
    private TestInputTopic<byte[], byte[]> raw;
    private TestOutputTopic<byte[], byte[]> sealed;
    private TestOutputTopic<byte[], byte[]> dlq;

    @BeforeEach
    void setUp() {
        localKms = new LocalKms(dir.resolve("kms"));
        start(localKms, EmbeddingValidator.defaults(), Fixtures.fastOptions(false));
        register("acme");
        register("globex");
    }

    private void start(Kms kms, EmbeddingValidator validator, SealingOptions options) {
        if (driver != null) {
            driver.close();
        }
        registry = new InMemorySchemaRegistry();
        schemaId = registry.register("embeddings.raw-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        parts = Fixtures.parts(TopicNames.defaults(), registry, kms, validator, options, localKms);
        driver = new TopologyTestDriver(
                EmbedsealTopology.topology(parts),
                StreamsSettings.properties("topology-test", "unused:9092", dir.resolve("state"), Map.of()));
        keyEvents = driver.createInputTopic(
                TopicNames.DEFAULT_KEY_EVENTS, new StringSerializer(), new ByteArraySerializer());
        raw = driver.createInputTopic(TopicNames.DEFAULT_RAW, new ByteArraySerializer(), new ByteArraySerializer());
        sealed = driver.createOutputTopic(
                TopicNames.DEFAULT_SEALED, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        dlq = driver.createOutputTopic(
                TopicNames.DEFAULT_DLQ, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    private void register(String tenant) {
        keyEvent(tenant, KeyEventType.REGISTERED, 1);
    }

    private void keyEvent(String tenant, KeyEventType type, int version) {
        keyEvents.pipeInput(tenant, Fixtures.keyEvent(tenant, type, "local", version));
    }

    private String dlqReason() {
        return header(dlq.readRecord(), DeadLetters.REASON_HEADER);
    }

    @Test
    void validRecord_isSealedUnderItsTenant_andOpensToTheSameEvent() {
        EmbeddingEvent event = TestEvents.event("acme", "doc-1", 384, 1);

        raw.pipeInput(utf8("acme/doc-1"), wire(event));

        assertThat(dlq.isEmpty()).isTrue();
        TestRecord<byte[], byte[]> out = sealed.readRecord();
        assertThat(SealedRecordKey.parse(out.key())).isEqualTo(new SealedRecordKey("acme", "doc-1"));
        assertThat(TestEvents.containsVectorBytes(out.value(), event.getVector()))
                .isFalse();
        Unsealed opened = readerSealer().unseal(out.value(), "acme", "doc-1");
        assertThat(opened.header().kek()).isEqualTo(new KekRef("local", "tenant-acme", 1));
        assertThat(EmbeddingEventCodec.fromCanonicalAvro(opened.plaintext())).isEqualTo(event);
        assertThat(opened.header().formatVersion()).isEqualTo(2);
        assertThat(opened.header().purpose()).isEqualTo("embeddings.sealed");
        assertThat(opened.header().recordVersion())
                .as("event time, then the raw record's offset")
                .isEqualTo(new io.embedseal.serdes.envelope.RecordVersion(
                        event.getEventTime().toEpochMilli(), 0));
    }

    @Test
    void anEventTimeFarAhead_isDeadLettered_soItCannotFreezeTheRecord() throws IOException {
        EmbeddingEvent ahead = EmbeddingEvent.newBuilder(TestEvents.event("acme", "doc-1", 4, 1))
                .setEventTime(java.time.Instant.ofEpochMilli(Long.MAX_VALUE / 4))
                .build();
        raw.pipeInput(utf8("acme/doc-1"), wire(ahead));
        raw.pipeInput(new TestRecord<>(
                utf8("acme/doc-2"), (byte[]) null, java.time.Instant.now().plus(java.time.Duration.ofDays(2))));

        assertThat(sealed.isEmpty()).isTrue();
        List<TestRecord<byte[], byte[]>> letters = dlq.readRecordsToList();
        assertThat(letters).hasSize(2);
        for (TestRecord<byte[], byte[]> l : letters) {
            assertThat(JSON.readTree(l.value()).get("reason").asText()).isEqualTo("EVENT_TIME_AHEAD");
        }
    }

    @Test
    void aKeyedTombstone_becomesASealedDeleteMarker_neverABareNull_andOnlyForAnActiveTenant() {
        raw.pipeInput(new TestRecord<>(utf8("acme/doc-1"), (byte[]) null, java.time.Instant.ofEpochMilli(5_000)));

        TestRecord<byte[], byte[]> out = sealed.readRecord();
        assertThat(out.value()).isNotNull();
        Unsealed marker = readerSealer().unseal(out.value(), "acme", "doc-1");
        assertThat(marker.header().payloadType()).isEqualTo(io.embedseal.serdes.envelope.PayloadType.DELETE_MARKER);
        assertThat(marker.header().recordVersion()).isEqualTo(new io.embedseal.serdes.envelope.RecordVersion(5_000, 0));

        keyEvent("acme", KeyEventType.REVOKED, 1);
        raw.pipeInput(utf8("acme/doc-2"), (byte[]) null);
        raw.pipeInput(utf8("not-a-delete-key"), (byte[]) null);

        assertThat(sealed.isEmpty())
                .as("a revoked tenant's delete is not sealed either")
                .isTrue();
        assertThat(dlq.readRecordsToList()).hasSize(2);
    }

    @Test
    void eachRegisteredTenant_isSealedUnderItsOwnKek() {
        raw.pipeInput(utf8("k1"), wire(TestEvents.event("acme", "doc-1", 8, 1)));
        raw.pipeInput(utf8("k2"), wire(TestEvents.event("globex", "doc-1", 8, 2)));

        List<byte[]> values = sealed.readValuesToList();
        Sealer reader = readerSealer();
        assertThat(reader.unseal(values.get(0), "acme", "doc-1").header().kek().keyName())
                .isEqualTo("tenant-acme");
        assertThat(reader.unseal(values.get(1), "globex", "doc-1")
                        .header()
                        .kek()
                        .keyName())
                .isEqualTo("tenant-globex");
        assertThatThrownBy(() -> reader.unseal(values.get(1), "acme", "doc-1")).hasMessageContaining("WRONG_BINDING");
    }

    @Test
    void olderWriterSchema_isSealedInTheCanonicalForm() throws IOException {
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
                .requiredLong("eventTime")
                .endRecord();
        int id = registry.register("embeddings.raw-value", v0);
        GenericRecord r = new GenericData.Record(v0);
        r.put("tenantId", "acme");
        r.put("embeddingId", "old-1");
        r.put("model", "m");
        r.put("vector", List.of(1f, 2f, 3f));
        r.put("eventTime", 7L);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        BinaryEncoder enc = EncoderFactory.get().directBinaryEncoder(body, null);
        new GenericDatumWriter<GenericRecord>(v0).write(r, enc);
        enc.flush();

        raw.pipeInput(utf8("k"), concat(new byte[] {0, 0, 0, 0, (byte) id}, body.toByteArray()));

        EmbeddingEvent opened = EmbeddingEventCodec.fromCanonicalAvro(
                readerSealer().unseal(sealed.readValue(), "acme", "old-1").plaintext());
        assertThat(opened.getVector()).containsExactly(1f, 2f, 3f);
        assertThat(opened.getMetadata()).isNull();
    }

    private static final EmbeddingEvent SOURCE = TestEvents.event("acme", "doc-1", 16, 3);

    static Stream<Arguments> invalidRecords() {
        EmbeddingEvent ok = SOURCE;
        List<Float> withNaN = new ArrayList<>(ok.getVector());
        withNaN.set(5, Float.NaN);
        List<Float> withInf = new ArrayList<>(ok.getVector());
        withInf.set(0, Float.POSITIVE_INFINITY);
        List<Float> withNegInf = new ArrayList<>(ok.getVector());
        withNegInf.set(15, Float.NEGATIVE_INFINITY);
        return Stream.of(
                Arguments.of("null value", DeadLetterReason.NULL_VALUE, (Function<Integer, byte[]>) id -> null),
                Arguments.of("random bytes", DeadLetterReason.WRONG_MAGIC_BYTE, (Function<Integer, byte[]>)
                        id -> "not avro at all".getBytes(StandardCharsets.UTF_8)),
                Arguments.of("magic byte 1", DeadLetterReason.WRONG_MAGIC_BYTE, (Function<Integer, byte[]>) id -> {
                    byte[] w = EmbeddingEventCodec.encodeWire(id, ok);
                    w[0] = 1;
                    return w;
                }),
                Arguments.of("unknown schema id", DeadLetterReason.UNKNOWN_SCHEMA_ID, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(9999, ok)),
                Arguments.of("shorter than prefix", DeadLetterReason.UNDECODABLE, (Function<Integer, byte[]>)
                        id -> new byte[] {0, 0}),
                Arguments.of("truncated body", DeadLetterReason.UNDECODABLE, (Function<Integer, byte[]>) id -> {
                    byte[] w = EmbeddingEventCodec.encodeWire(id, ok);
                    return Arrays.copyOf(w, w.length - 7);
                }),
                Arguments.of("empty tenant", DeadLetterReason.MISSING_TENANT, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(
                                id,
                                EmbeddingEvent.newBuilder(ok).setTenantId("").build())),
                Arguments.of("tenant with slash", DeadLetterReason.INVALID_TENANT_ID, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(
                                id,
                                EmbeddingEvent.newBuilder(ok)
                                        .setTenantId("acme/evil")
                                        .build())),
                Arguments.of("empty embedding id", DeadLetterReason.MISSING_EMBEDDING_ID, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(
                                id,
                                EmbeddingEvent.newBuilder(ok).setEmbeddingId("").build())),
                Arguments.of("embedding id too long", DeadLetterReason.INVALID_EMBEDDING_ID, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(
                                id,
                                EmbeddingEvent.newBuilder(ok)
                                        .setEmbeddingId("x".repeat(1025))
                                        .build())),
                Arguments.of("empty vector", DeadLetterReason.EMPTY_VECTOR, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(id, TestEvents.withVector(ok, List.of()))),
                Arguments.of("too many dimensions", DeadLetterReason.TOO_MANY_DIMENSIONS, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(
                                id, TestEvents.withVector(ok, Collections.nCopies(16_385, 0.5f)))),
                Arguments.of("NaN", DeadLetterReason.NON_FINITE_VALUE, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(id, TestEvents.withVector(ok, withNaN))),
                Arguments.of("+Infinity", DeadLetterReason.NON_FINITE_VALUE, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(id, TestEvents.withVector(ok, withInf))),
                Arguments.of("-Infinity", DeadLetterReason.NON_FINITE_VALUE, (Function<Integer, byte[]>)
                        id -> EmbeddingEventCodec.encodeWire(id, TestEvents.withVector(ok, withNegInf))));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("invalidRecords")
    void invalidRecord_goesToTheDeadLetterTopicWithItsReason_andNoPlaintext(
            String name, DeadLetterReason reason, Function<Integer, byte[]> value) throws IOException {
        byte[] input = value.apply(schemaId);
        raw.pipeInput(utf8("original-key"), input);

        assertThat(sealed.isEmpty()).as("nothing sealed").isTrue();
        TestRecord<byte[], byte[]> out = dlq.readRecord();
        assertThat(dlq.isEmpty()).isTrue();
        // Every input above is built from the same vector: no run of it may reach the dead letter.
        assertThat(TestEvents.containsVectorBytes(concat(out.value(), allHeaderBytes(out)), SOURCE.getVector()))
                .as("vector bytes in the dead letter")
                .isFalse();
        assertThat(out.key()).isEqualTo(utf8("original-key"));
        assertThat(header(out, DeadLetters.REASON_HEADER)).isEqualTo(reason.name());
        assertThat(header(out, DeadLetters.SOURCE_TOPIC_HEADER)).isEqualTo(TopicNames.DEFAULT_RAW);
        assertThat(header(out, DeadLetters.SOURCE_OFFSET_HEADER)).isEqualTo("0");
        JsonNode json = JSON.readTree(out.value());
        assertThat(json.get("reason").asText()).isEqualTo(reason.name());
        assertThat(json.get("sourcePartition").asInt()).isZero();
        assertThat(json.get("valueBytes").asInt()).isEqualTo(input == null ? 0 : input.length);
        assertThat(json.get("detail").asText()).isNotBlank();
    }

    @Test
    void nonFiniteDetail_namesThePositionNotTheValue() throws IOException {
        EmbeddingEvent ok = TestEvents.event("acme", "doc-1", 16, 3);
        List<Float> withNaN = new ArrayList<>(ok.getVector());
        withNaN.set(5, Float.NaN);

        raw.pipeInput(utf8("k"), wire(TestEvents.withVector(ok, withNaN)));

        JsonNode json = JSON.readTree(dlq.readValue());
        assertThat(json.get("detail").asText()).isEqualTo("vector[5] is not a finite number");
        assertThat(json.get("tenantId").asText()).isEqualTo("acme");
        assertThat(json.get("embeddingId").asText()).isEqualTo("doc-1");
        assertThat(json.get("schemaId").asInt()).isEqualTo(schemaId);
    }

    @Test
    void producerHeadersPassThrough_butReservedOnesAreDropped() {
        RecordHeaders headers = new RecordHeaders();
        headers.add("traceparent", utf8("00-abc-01"));
        headers.add("embedseal.dlq.reason", utf8("forged"));

        raw.pipeInput(new TestRecord<>(utf8("k"), wire(TestEvents.event("acme", "doc-1", 4, 1)), headers));

        TestRecord<byte[], byte[]> out = sealed.readRecord();
        assertThat(out.headers().toArray()).extracting(Header::key).containsExactly("traceparent");
    }

    @Test
    void kmsUnreachableLongerThanARecordMayWait_failsTheRecordWithoutPassingItOn() {
        start(
                FailingKms.create(),
                EmbeddingValidator.defaults(),
                new SealingOptions(false, true, Duration.ofMillis(300), Duration.ofMillis(50), Duration.ofSeconds(30)));
        register("acme");

        assertThatThrownBy(() -> raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-1", 4, 1))))
                .hasRootCauseInstanceOf(KmsUnavailableException.class);
        assertThat(sealed.isEmpty()).isTrue();
        assertThat(dlq.isEmpty()).isTrue();
        assertThat(parts.health().status()).isEqualTo(PipelineHealth.Status.DEGRADED);
    }

    @Test
    void kmsUnreachableForAWhile_theRecordWaits_thenIsSealed_andHealthRecovers() {
        AtomicInteger failuresLeft = new AtomicInteger(4);
        Kms flaky = flaky(localKms, failuresLeft);
        start(flaky, EmbeddingValidator.defaults(), Fixtures.fastOptions(false));
        register("acme");

        raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-1", 4, 1)));

        assertThat(failuresLeft.get()).isNegative();
        assertThat(sealed.readValuesToList()).hasSize(1);
        assertThat(dlq.isEmpty()).isTrue();
        assertThat(parts.health().status()).isEqualTo(PipelineHealth.Status.HEALTHY);
    }

    @Test
    void unknownTenant_isRejected_failClosed() throws IOException {
        raw.pipeInput(utf8("k"), wire(TestEvents.event("initech", "doc-1", 4, 1)));

        assertThat(sealed.isEmpty()).isTrue();
        TestRecord<byte[], byte[]> out = dlq.readRecord();
        assertThat(header(out, DeadLetters.REASON_HEADER)).isEqualTo("UNKNOWN_TENANT");
        assertThat(JSON.readTree(out.value()).has("sealedOriginal")).isFalse();
        assertThatThrownBy(() -> localKms.describe("tenant-initech"))
                .as("no key was created for the unknown tenant")
                .isInstanceOf(io.embedseal.keyring.kms.UnknownKeyException.class);
    }

    @Test
    void autoRegistration_sealsForUnknownTenants_whenSwitchedOn() {
        start(localKms, EmbeddingValidator.defaults(), Fixtures.fastOptions(true));

        raw.pipeInput(utf8("k"), wire(TestEvents.event("initech", "doc-1", 4, 1)));

        assertThat(sealed.readValuesToList()).hasSize(1);
    }

    @Test
    void revokedTenant_isRejectedAtOnce_othersContinue_andRestoredResumes() throws IOException {
        raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-1", 4, 1)));
        assertThat(sealed.readValuesToList()).hasSize(1);
        assertThat(parts.sealer().keyring().activeDekCount()).isEqualTo(1);

        keyEvent("acme", KeyEventType.REVOKED, 1);

        assertThat(parts.sealer().keyring().activeDekCount())
                .as("the tenant's DEKs are evicted at once")
                .isZero();
        raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-2", 4, 2)));
        raw.pipeInput(utf8("k"), wire(TestEvents.event("globex", "doc-2", 4, 3)));
        TestRecord<byte[], byte[]> rejected = dlq.readRecord();
        assertThat(header(rejected, DeadLetters.REASON_HEADER)).isEqualTo("TENANT_REVOKED");
        assertThat(JSON.readTree(rejected.value()).has("sealedOriginal"))
                .as("nothing sealed under a revoked key")
                .isFalse();
        assertThat(sealed.readValuesToList()).as("globex goes on").hasSize(1);

        keyEvent("acme", KeyEventType.RESTORED, 1);
        raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-3", 4, 4)));
        assertThat(sealed.readValuesToList()).hasSize(1);
    }

    @Test
    void destroyedIsTerminal_aLaterEventDoesNotBringTheTenantBack() {
        keyEvent("acme", KeyEventType.DESTROYED, 1);
        keyEvent("acme", KeyEventType.RESTORED, 1);
        keyEvent("acme", KeyEventType.REGISTERED, 1);

        raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-1", 4, 1)));

        assertThat(sealed.isEmpty()).isTrue();
        assertThat(dlqReason()).isEqualTo("TENANT_DESTROYED");
    }

    @Test
    void rotation_sealsTheNextRecordUnderTheNewKekVersion() {
        raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-1", 4, 1)));
        assertThat(readerSealer()
                        .unseal(sealed.readValue(), "acme", "doc-1")
                        .header()
                        .kek()
                        .version())
                .isEqualTo(1);

        localKms.rotate("tenant-acme");
        keyEvent("acme", KeyEventType.ROTATED, 2);
        raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-2", 4, 2)));

        assertThat(readerSealer()
                        .unseal(sealed.readValue(), "acme", "doc-2")
                        .header()
                        .kek()
                        .version())
                .isEqualTo(2);
    }

    @Test
    void kmsDenial_isTreatedAsRevocation_withoutAskingTheKmsForEveryRecord() {
        io.embedseal.keyring.kms.decorator.KmsCallStats stats = new io.embedseal.keyring.kms.decorator.KmsCallStats();
        start(
                new io.embedseal.keyring.kms.decorator.InterceptedKms(
                        localKms, new io.embedseal.keyring.kms.decorator.KmsInstrumentation(stats)),
                EmbeddingValidator.defaults(),
                Fixtures.fastOptions(false));
        register("acme");
        localKms.createKek("tenant-acme");
        localKms.disable("tenant-acme"); // the tenant revoked access in its own KMS, without a key event

        for (int i = 0; i < 5; i++) {
            raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-" + i, 4, i)));
        }

        assertThat(sealed.isEmpty()).isTrue();
        List<TestRecord<byte[], byte[]>> rejected = dlq.readRecordsToList();
        assertThat(rejected)
                .extracting(r -> header(r, DeadLetters.REASON_HEADER))
                .containsOnly("KEY_DENIED")
                .hasSize(5);
        assertThat(stats.calls(io.embedseal.keyring.kms.KmsOperation.WRAP))
                .as("one KMS call, then the cool-down")
                .isEqualTo(1);
    }

    @Test
    void anActiveTenantsRefusedRecord_keepsItsOriginalSealed_forReplay() throws IOException {
        EmbeddingEvent ok = TestEvents.event("acme", "doc-1", 16, 3);
        List<Float> withNaN = new ArrayList<>(ok.getVector());
        withNaN.set(2, Float.NaN);
        byte[] input = wire(TestEvents.withVector(ok, withNaN));

        raw.pipeInput(utf8("k"), input);

        JsonNode json = JSON.readTree(dlq.readValue());
        byte[] sealedOriginal =
                java.util.Base64.getDecoder().decode(json.get("sealedOriginal").asText());
        assertThat(TestEvents.containsVectorBytes(sealedOriginal, ok.getVector()))
                .isFalse();
        assertThatThrownBy(() -> readerSealer()
                        .unseal(sealedOriginal, "acme", DeadLetters.originalBinding(TopicNames.DEFAULT_RAW, 0, 0)))
                .as("a dead letter's original is sealed for its own purpose, never the sealed topic's")
                .isInstanceOf(io.embedseal.serdes.envelope.EnvelopeException.class);
        Unsealed opened = readerSealer()
                .withPurpose(DeadLetters.ENVELOPE_PURPOSE)
                .unseal(sealedOriginal, "acme", DeadLetters.originalBinding(TopicNames.DEFAULT_RAW, 0, 0));
        assertThat(opened.header().payloadType()).isEqualTo(io.embedseal.serdes.envelope.PayloadType.RAW_RECORD_VALUE);
        assertThat(opened.plaintext())
                .as("the original value, for a replay after a fix")
                .isEqualTo(input);
    }

    @Test
    void configuredDimensionsAndMetadataLimits_haveTheirOwnReasons() {
        start(
                localKms,
                new EmbeddingValidator(new ValidationLimits(
                        16_384, Map.of("test-model-8", 8), Map.of("globex", 4), 64, null, 1024, 2, 64)),
                Fixtures.fastOptions(false));
        register("acme");
        register("globex");

        raw.pipeInput(utf8("k"), wire(TestEvents.event("acme", "doc-1", 8, 1)));
        raw.pipeInput(utf8("k"), wire(TestEvents.event("globex", "doc-2", 8, 2)));
        raw.pipeInput(
                utf8("k"),
                wire(EmbeddingEvent.newBuilder(TestEvents.event("acme", "doc-3", 8, 3))
                        .setMetadata(Map.of("a", "1", "b", "2", "c", "3"))
                        .build()));
        raw.pipeInput(
                utf8("k"),
                wire(EmbeddingEvent.newBuilder(TestEvents.event("acme", "doc-4", 8, 4))
                        .setMetadata(Map.of("text", "x".repeat(100)))
                        .build()));

        assertThat(sealed.readValuesToList()).hasSize(1);
        assertThat(dlq.readRecordsToList())
                .extracting(r -> header(r, DeadLetters.REASON_HEADER))
                .containsExactly("DIMENSION_MISMATCH", "METADATA_TOO_LARGE", "METADATA_TOO_LARGE");
    }

    @Test
    void anInvalidKeyEvent_neverMakesATenantSealable() {
        keyEvents.pipeInput("initech", "not a key event".getBytes(StandardCharsets.UTF_8));
        keyEvents.pipeInput("initech", Fixtures.keyEvent("someone-else", KeyEventType.REGISTERED, "local", 1));

        raw.pipeInput(utf8("k"), wire(TestEvents.event("initech", "doc-1", 4, 1)));

        assertThat(dlqReason()).isEqualTo("UNKNOWN_TENANT");
    }

    private static Kms flaky(Kms delegate, AtomicInteger failuresLeft) {
        return (Kms) java.lang.reflect.Proxy.newProxyInstance(
                Kms.class.getClassLoader(), new Class<?>[] {Kms.class}, (proxy, method, args) -> {
                    // Unreachable for every call while it lasts (the reachability probe's describe too): an
                    // outage of the KMS, not of one tenant's key.
                    if (Set.of("wrapDek", "unwrapDek", "describe").contains(method.getName())
                            && failuresLeft.getAndDecrement() > 0) {
                        throw new KmsUnavailableException("KMS is restarting");
                    }
                    try {
                        return method.invoke(delegate, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private Sealer readerSealer() {
        return new Sealer(Keyring.of(new LocalKms(dir.resolve("kms"))));
    }

    private byte[] wire(EmbeddingEvent event) {
        return EmbeddingEventCodec.encodeWire(schemaId, event);
    }

    private static String header(TestRecord<byte[], byte[]> r, String key) {
        Header h = r.headers().lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static byte[] allHeaderBytes(TestRecord<byte[], byte[]> r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Header h : r.headers()) {
            out.writeBytes(h.value());
        }
        return out.toByteArray();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** A KMS that is down: every call fails as unreachable. */
    private static final class FailingKms {
        static Kms create() {
            return (Kms) java.lang.reflect.Proxy.newProxyInstance(
                    Kms.class.getClassLoader(),
                    new Class<?>[] {Kms.class},
                    (proxy, method, args) -> switch (method.getName()) {
                        case "provider" -> "local";
                        case "close" -> null;
                        case "toString" -> "FailingKms";
                        default -> throw new KmsUnavailableException("test KMS is down");
                    });
        }
    }
}
