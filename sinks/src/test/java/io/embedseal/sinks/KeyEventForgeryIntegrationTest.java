package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.control.KeyEventAuthor;
import io.embedseal.control.KeyEventGate;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.testkit.EmbeddedConnect;
import io.embedseal.topology.DeadLetters;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The attacks of an intruder who can write {@code keyring.events} (and nothing else), against the real pipeline (an
 * in-process broker, Kafka Streams) and the Lucene and PostgreSQL sinks (a real Connect worker). Each run is made
 * twice: with {@code kms.events.verification=disabled-insecure}, which is how every reader behaved before key events
 * were signed, the attacks succeed (the control: the test can see them); with the default they are refused and every
 * tenant's state is what its genuine events made it.
 *
 * <ul>
 *   <li>acme: a forged ROTATED naming mallory's KEK (the pipeline would seal acme's records for mallory);
 *   <li>bob: genuinely DESTROYED, then a tombstone and a replay of bob's own genuine REGISTERED record;
 *   <li>carol: genuinely REVOKED, then a tombstone (the sinks would unseal and index carol again);
 *   <li>dave: a forged DESTROYED (the sinks would shred dave's index while dave's KEK is untouched);
 *   <li>erin: REVOKED, RESTORED, REVOKED, then the RESTORED record replayed as it was.
 * </ul>
 */
@Tag("integration")
class KeyEventForgeryIntegrationTest {

    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int DIMS = 8;
    private static final List<String> TENANTS = List.of("acme", "bob", "carol", "dave", "erin", "mallory");

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "verification {0}")
    @ValueSource(strings = {"disabled-insecure", "required"})
    void anIntruderWithWriteAccessToTheKeyEventTopic(String verification) throws Exception {
        boolean defended = verification.equals("required");
        Path kmsDir = tmp.resolve("kms");
        // The intruder's own signing key: a valid Ed25519 key that no reader trusts.
        KeyEventAuthor intruder = KeyEventAuthor.creatingKey(
                new LocalKms(tmp.resolve("intruder")).signingKeys().orElseThrow(), "intruder", "ops");
        Map<String, KekRef> keks = new HashMap<>();
        try (SinkFixture f = new SinkFixture(1);
                Sealed sealed = new Sealed(kmsDir)) {
            for (String t : TENANTS) {
                keks.put(t, sealed.onboard(t));
                f.keyEvent(t, KeyEventType.REGISTERED, keks.get(t));
            }
            Map<String, byte[]> genuine = new HashMap<>(); // records as the intruder copies them from the topic
            for (ConsumerRecord<byte[], byte[]> r : f.readAll(f.keyEvents)) {
                genuine.put(new String(r.key(), StandardCharsets.UTF_8) + "/REGISTERED", r.value());
            }

            Map<String, String> p = f.pipeline("forgery-" + f.run, tmp.resolve("streams"), kmsDir);
            p.put(KeyringSettings.EVENTS_VERIFICATION.name(), verification);
            p.put("streams.commit.interval.ms", "100");
            InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
            int schemaId = registry.register(f.raw + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
            Random random = new Random(7);

            try (EmbedsealPipeline pipeline = EmbedsealPipeline.create(PipelineConfig.of(p, name -> null), registry);
                    EmbeddedConnect connect = EmbeddedConnect.start(
                            f.broker.bootstrapServers(), tmp.resolve("connect.offsets"), Map.of())) {
                pipeline.start();
                Path luceneDir = tmp.resolve("lucene");
                Map<String, String> lucene = f.lucene(kmsDir, luceneDir);
                lucene.put(KeyringSettings.EVENTS_VERIFICATION.name(), verification);
                connect.putConnector("lucene-" + f.run, lucene);
                boolean postgres = SinkEndToEndIntegrationTest.pgAvailable();
                String table = PostgresTestDatabase.freshTable("forgery");
                if (postgres) {
                    Map<String, String> pg = f.postgres(kmsDir, table, f.connectDlq + "-pg");
                    pg.put(KeyringSettings.EVENTS_VERIFICATION.name(), verification);
                    connect.putConnector("pg-" + f.run, pg);
                }
                connect.awaitRunning("lucene-" + f.run, EmbeddedConnect.startTimeout());
                if (postgres) {
                    connect.awaitRunning("pg-" + f.run, EmbeddedConnect.startTimeout());
                }
                // Every tenant has records in both stores before the attacks.
                for (String t : TENANTS) {
                    for (int i = 0; i < 3; i++) {
                        f.sendSealed(
                                t, "before-" + i, sealed.seal(t, "before-" + i, Sealed.randomVector(random, DIMS)));
                    }
                }
                f.producer.flush();
                SinkFixture.await(
                        WAIT,
                        "every tenant indexed",
                        () -> TENANTS.stream().allMatch(t -> TestIndexes.count(luceneDir, t) == 3)
                                && (!postgres
                                        || TENANTS.stream()
                                                .allMatch(t -> SinkFixture.pgRows(table, t)
                                                                .size()
                                                        == 3)),
                        () -> TENANTS.stream()
                                .map(t -> t + "=" + TestIndexes.count(luceneDir, t))
                                .toList());

                // The genuine history the operator makes.
                sealed.kms.destroy(keks.get("bob").keyName());
                f.keyEvent("bob", KeyEventType.DESTROYED, keks.get("bob"));
                f.keyEvent("carol", KeyEventType.REVOKED, keks.get("carol"));
                f.keyEvent("erin", KeyEventType.REVOKED, keks.get("erin"));
                f.keyEvent("erin", KeyEventType.RESTORED, keks.get("erin"));
                byte[] erinRestored = lastValue(f, "erin");
                f.keyEvent("erin", KeyEventType.REVOKED, keks.get("erin"));

                // The intruder's records.
                f.publishKeyEvent(
                        "acme",
                        intruder.next(
                                "acme",
                                KeyEventType.ROTATED,
                                "local",
                                keks.get("mallory").keyName(),
                                2));
                f.publishKeyEvent("bob", null);
                f.publishKeyEvent("bob", genuine.get("bob/REGISTERED"));
                f.publishKeyEvent("carol", null);
                f.publishKeyEvent("dave", intruder.next("dave", KeyEventType.DESTROYED, "local", "tenant-dave", 1));
                f.publishKeyEvent("erin", erinRestored);
                long records = f.readAll(f.keyEvents).size();
                KeyEventGate gate = pipeline.parts().keyEvents();
                SinkFixture.await(
                        WAIT, "the pipeline to read every key event", () -> gate.seen() >= records, gate::seen);
                // A sink task reads every key event before its first record: after a restart, each has seen them all.
                connect.restart("lucene-" + f.run, EmbeddedConnect.startTimeout());
                if (postgres) {
                    connect.restart("pg-" + f.run, EmbeddedConnect.startTimeout());
                }

                // --- the pipeline -------------------------------------------------------------------------
                for (String t : List.of("acme", "bob", "erin")) {
                    f.producer.send(new ProducerRecord<>(
                            f.raw,
                            (t + "/after").getBytes(StandardCharsets.UTF_8),
                            EmbeddingEventCodec.encodeWire(
                                    schemaId, Sealed.event(t, "after", Sealed.randomVector(random, DIMS)))));
                }
                f.producer.flush();
                Map<String, String> outcome = new HashMap<>(); // tenant -> KEK it was sealed under, or the DLQ reason
                SinkFixture.await(
                        WAIT,
                        "the pipeline's decisions on acme, bob and erin",
                        () -> {
                            outcome.putAll(pipelineOutcomes(f));
                            return outcome.keySet().containsAll(List.of("acme", "bob", "erin"));
                        },
                        () -> outcome);
                TenantState bob = pipeline.directory().get("bob");
                if (defended) {
                    assertThat(outcome.get("acme")).isEqualTo(keks.get("acme").keyName());
                    assertThat(outcome.get("bob")).isEqualTo("TENANT_DESTROYED");
                    assertThat(bob.status()).isEqualTo(TenantStatus.DESTROYED);
                    assertThat(outcome.get("erin")).isEqualTo("TENANT_REVOKED");
                    assertThat(gate.refused()).isEqualTo(6);
                } else {
                    // acme sealed for mallory; bob back from the dead (its KEK is gone: the KMS refuses); erin open.
                    assertThat(outcome.get("acme"))
                            .isEqualTo(keks.get("mallory").keyName());
                    assertThat(bob.status()).isEqualTo(TenantStatus.ACTIVE);
                    assertThat(outcome.get("bob")).isNotEqualTo("TENANT_DESTROYED");
                    assertThat(outcome.get("erin")).isEqualTo(keks.get("erin").keyName());
                }

                // --- the sinks ----------------------------------------------------------------------------
                f.sendSealed("dave", "after", sealed.seal("dave", "after", Sealed.randomVector(random, DIMS)));
                f.sendSealed("carol", "after", sealed.seal("carol", "after", Sealed.randomVector(random, DIMS)));
                f.producer.flush();
                if (defended) {
                    SinkFixture.await(
                            WAIT,
                            "dave's new record indexed",
                            () -> TestIndexes.count(luceneDir, "dave") == 4,
                            () -> TestIndexes.count(luceneDir, "dave"));
                    assertThat(LuceneSearch.shredded(luceneDir, "dave")).isEmpty();
                    SinkFixture.await(
                            WAIT,
                            "carol's record in the Lucene connector's dead-letter topic",
                            () -> deadLettered(f, f.connectDlq, "carol"),
                            () -> f.readAll(f.connectDlq).size());
                    assertThat(TestIndexes.count(luceneDir, "carol")).isEqualTo(3); // still revoked
                    if (postgres) {
                        SinkFixture.await(
                                WAIT,
                                "dave's new row",
                                () -> SinkFixture.pgRows(table, "dave").size() == 4,
                                () -> SinkFixture.pgRows(table, "dave").size());
                        assertThat(SinkFixture.pgRows(table, "carol")).hasSize(3);
                    }
                } else {
                    // dave is shredded on the intruder's word. carol's tombstone makes her unknown, no longer
                    // revoked; her record still is not indexed, because sinks require a registration (it goes to the
                    // dead-letter topic as TENANT_UNREGISTERED): that defence holds with verification off too.
                    SinkFixture.await(
                            WAIT,
                            "dave's index shredded and carol's new record dead-lettered as unregistered",
                            () -> LuceneSearch.shredded(luceneDir, "dave").isPresent()
                                    && deadLettered(f, f.connectDlq, "carol"),
                            () -> "dave shredded: "
                                    + LuceneSearch.shredded(luceneDir, "dave").isPresent() + ", carol: "
                                    + TestIndexes.count(luceneDir, "carol"));
                    assertThat(TestIndexes.count(luceneDir, "carol")).isEqualTo(3);
                    if (postgres) {
                        SinkFixture.await(
                                WAIT,
                                "dave's rows shredded, carol's new row refused",
                                () -> SinkFixture.pgRows(table, "dave").isEmpty()
                                        && SinkFixture.pgRows(table, "carol").size() == 3,
                                () -> SinkFixture.pgRows(table, "carol").size());
                    }
                }
                // Nobody else was touched, either way.
                assertThat(sealed.kms.describe(keks.get("dave").keyName())).isNotNull();
                for (String t : List.of("acme", "mallory")) {
                    assertThat(TestIndexes.count(luceneDir, t)).isGreaterThanOrEqualTo(3);
                }
            }
        }
    }

    /**
     * A topic of unsigned events only (written before signing existed, or by an intruder before the first
     * registration): the pipeline and a sink task refuse to start, naming the migration and the development
     * setting; with that setting (the control: the old behaviour) both start and apply the unsigned event.
     */
    @org.junit.jupiter.api.Test
    void aTopicOfUnsignedEventsOnly_isRefusedAtStart_unlessVerificationIsDisabled() throws Exception {
        Path kmsDir = tmp.resolve("kms");
        try (SinkFixture f = new SinkFixture(1);
                Sealed sealed = new Sealed(kmsDir);
                EmbeddedConnect connect =
                        EmbeddedConnect.start(f.broker.bootstrapServers(), tmp.resolve("connect.offsets"), Map.of())) {
            KekRef acme = sealed.onboard("acme");
            f.publishKeyEvent(
                    "acme",
                    io.embedseal.control.KeyEvents.encode(io.embedseal.control.KeyEvents.event(
                            "acme",
                            KeyEventType.REGISTERED,
                            acme.provider(),
                            acme.keyName(),
                            acme.version(),
                            "before-signing",
                            null)));
            for (String verification : List.of("required", "disabled-insecure")) {
                Map<String, String> p =
                        f.pipeline("unsigned-" + verification + "-" + f.run, tmp.resolve(verification), kmsDir);
                p.put(KeyringSettings.EVENTS_VERIFICATION.name(), verification);
                Map<String, String> lucene = f.lucene(kmsDir, tmp.resolve("lucene-" + verification));
                lucene.put(KeyringSettings.EVENTS_VERIFICATION.name(), verification);
                String connector = "lucene-" + verification + "-" + f.run;
                try (EmbedsealPipeline pipeline =
                        EmbedsealPipeline.create(PipelineConfig.of(p, name -> null), new InMemorySchemaRegistry())) {
                    connect.putConnector(connector, lucene);
                    if (verification.equals("required")) {
                        org.assertj.core.api.Assertions.assertThatThrownBy(pipeline::start)
                                .hasMessageContaining("1 unsigned key events")
                                .hasMessageContaining("kms.events.verification=disabled-insecure");
                        org.assertj.core.api.Assertions.assertThatThrownBy(
                                        () -> connect.awaitRunning(connector, EmbeddedConnect.startTimeout()))
                                .hasMessageContaining("unsigned key events");
                    } else {
                        pipeline.start();
                        SinkFixture.await(
                                WAIT,
                                "the unsigned registration applied",
                                () -> pipeline.directory().get("acme") != null,
                                () -> pipeline.parts().keyEvents().seen());
                        assertThat(pipeline.directory().get("acme").status()).isEqualTo(TenantStatus.ACTIVE);
                        connect.awaitRunning(connector, EmbeddedConnect.startTimeout());
                    }
                    connect.deleteConnector(connector);
                }
            }
        }
    }

    /** The value of the tenant's last record on the key-event topic. */
    private static byte[] lastValue(SinkFixture f, String tenant) {
        byte[] last = null;
        for (ConsumerRecord<byte[], byte[]> r : f.readAll(f.keyEvents)) {
            if (tenant.equals(new String(r.key(), StandardCharsets.UTF_8))) {
                last = r.value();
            }
        }
        return last;
    }

    /** For each tenant whose "after" record the pipeline decided on: the KEK it was sealed under, or the DLQ reason. */
    private static Map<String, String> pipelineOutcomes(SinkFixture f) {
        Map<String, String> out = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : f.readAll(f.sealedTopic)) {
            String key = new String(r.key(), StandardCharsets.UTF_8);
            if (key.endsWith("/after")) {
                out.put(
                        key.substring(0, key.indexOf('/')),
                        EnvelopeHeader.parse(r.value()).kek().keyName());
            }
        }
        for (ConsumerRecord<byte[], byte[]> r : f.readAll(f.dlq)) {
            String key = new String(r.key(), StandardCharsets.UTF_8);
            Header reason = r.headers().lastHeader(DeadLetters.REASON_HEADER);
            if (key.endsWith("/after") && reason != null) {
                out.put(key.substring(0, key.indexOf('/')), new String(reason.value(), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private static boolean deadLettered(SinkFixture f, String topic, String tenant) {
        return f.readAll(topic).stream()
                .anyMatch(r -> new String(r.key(), StandardCharsets.UTF_8).startsWith(tenant + "/"));
    }
}
