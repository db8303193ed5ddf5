package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.kms.testsupport.Moto;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sealing pipeline on AWS KMS (moto's server): each tenant's DEKs are wrapped by its AWS key; a key its owner
 * disabled in AWS is refused as a denial (KEY_DENIED, treated as a revocation) and a key pending deletion as an
 * unknown key (KEY_UNKNOWN), with no key event, while the other tenant goes on.
 */
class AwsKmsTopologyTest {

    @TempDir
    Path dir;

    @Test
    void aDisabledKeyIsDenied_aKeyPendingDeletionIsUnknown_andTheOtherTenantGoesOn() {
        Map<String, String> settings = Moto.settings();
        try (KmsProvider kms = KmsProviders.create(KeyringSettings.of(settings, Moto.environment()::apply))) {
            String run = UUID.randomUUID().toString().substring(0, 6);
            String acme = "acme-" + run;
            String globex = "globex-" + run;
            String initech = "initech-" + run;
            InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
            int schemaId = registry.register("embeddings.raw-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
            EmbedsealTopology.Parts parts = Fixtures.parts(
                    TopicNames.defaults(),
                    registry,
                    kms,
                    EmbeddingValidator.defaults(),
                    Fixtures.fastOptions(false),
                    null);
            try (TopologyTestDriver driver = new TopologyTestDriver(
                    EmbedsealTopology.topology(parts),
                    StreamsSettings.properties("aws-topology-test", "unused:9092", dir.resolve("state"), Map.of()))) {
                TestInputTopic<String, byte[]> keyEvents = driver.createInputTopic(
                        TopicNames.DEFAULT_KEY_EVENTS, new StringSerializer(), new ByteArraySerializer());
                TestInputTopic<byte[], byte[]> raw = driver.createInputTopic(
                        TopicNames.DEFAULT_RAW, new ByteArraySerializer(), new ByteArraySerializer());
                TestOutputTopic<byte[], byte[]> sealed = driver.createOutputTopic(
                        TopicNames.DEFAULT_SEALED, new ByteArrayDeserializer(), new ByteArrayDeserializer());
                TestOutputTopic<byte[], byte[]> dlq = driver.createOutputTopic(
                        TopicNames.DEFAULT_DLQ, new ByteArrayDeserializer(), new ByteArrayDeserializer());
                for (String t : List.of(acme, globex, initech)) {
                    kms.createKek("tenant-" + t);
                    keyEvents.pipeInput(t, Fixtures.keyEvent(t, KeyEventType.REGISTERED, "aws", 1));
                }
                // The tenants' own acts in AWS KMS, with no key event.
                kms.disable("tenant-" + globex);
                kms.destroy("tenant-" + initech);

                for (String t : List.of(acme, globex, initech)) {
                    EmbeddingEvent event = TestEvents.event(t, "doc-1", 16, 1);
                    raw.pipeInput(
                            (t + "/doc-1").getBytes(StandardCharsets.UTF_8),
                            EmbeddingEventCodec.encodeWire(schemaId, event));
                }

                List<TestRecord<byte[], byte[]>> out = sealed.readRecordsToList();
                assertThat(out).hasSize(1);
                Sealer reader = new Sealer(Keyring.of(kms));
                assertThat(reader.unseal(out.get(0).value(), acme, "doc-1")
                                .header()
                                .kek())
                        .isEqualTo(new KekRef("aws", "tenant-" + acme, 1));
                Map<String, String> reasons = new java.util.TreeMap<>();
                for (TestRecord<byte[], byte[]> r : dlq.readRecordsToList()) {
                    String key = new String(r.key(), StandardCharsets.UTF_8);
                    reasons.put(key.substring(0, key.indexOf('/')), header(r, DeadLetters.REASON_HEADER));
                }
                assertThat(reasons).containsOnly(Map.entry(globex, "KEY_DENIED"), Map.entry(initech, "KEY_UNKNOWN"));
            }
        }
    }

    private static String header(TestRecord<byte[], byte[]> r, String key) {
        Header h = r.headers().lastHeader(key);
        return h == null ? "?" : new String(h.value(), StandardCharsets.UTF_8);
    }
}
