package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.testkit.EmbeddedConnect;
import io.embedseal.testkit.PythonClient;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One format, two languages, on a real broker and a real Connect worker. The Python client (run from the build's
 * virtualenv) seals records for two tenants: one with a symmetric KEK of the local KMS, one holding only the tenant's
 * public key (an X25519 key pair, pinned in its signed REGISTERED event; no KMS, no credential in Python). The Lucene sink
 * indexes the first and a search finds each record; the PostgreSQL sink (sealed mode, which opens every envelope under
 * the tenant's key) stores both. A record tampered with in Python is dead-lettered TAMPERED by both sinks. The other way:
 * records the Java sealer wrote open in Python to the same vectors, and one tampered with in Java is refused TAMPERED.
 *
 * And a Python producer's raw events are sealed by the Java pipeline, indexed by both sinks and found by search.
 *
 * <p>A public-key tenant is not indexed by the Lucene sink on purpose: its index key would have to be wrapped with the
 * tenant's public key, which anyone can do (docs/key-management.md, "Public-key KEKs").
 */
class PythonClientSinkIntegrationTest {

    private static final int N = 20;
    private static final int DIMS = 16;
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private @Nullable EmbedsealPipeline pipeline;

    @AfterEach
    void stopPipeline() {
        if (pipeline != null) {
            pipeline.close(Duration.ofSeconds(10));
        }
    }

    @Test
    void pythonSealedRecordsReachBothSinks_javaSealedOpenInPython_andTamperingIsRefusedBothWays() throws Exception {
        assumeTrue(
                PythonClient.unavailableBecause().isEmpty(),
                () -> PythonClient.unavailableBecause().orElse(""));
        PostgresTestDatabase.assumeAvailable();
        Path kmsDir = tmp.resolve("kms");
        try (SinkFixture f = new SinkFixture(2);
                EmbeddedConnect connect = EmbeddedConnect.start(
                        f.broker.bootstrapServers(),
                        Files.createTempDirectory("py-sink").resolve("offsets"),
                        Map.of())) {
            LocalKms local = new LocalKms(kmsDir);
            String sym = "pysym-" + f.run;
            String pub = "pypub-" + f.run;
            String java = "java-" + f.run;
            f.keyEvent(sym, KeyEventType.REGISTERED, local.createKek("tenant-" + sym));
            f.keyEvent(java, KeyEventType.REGISTERED, local.createKek("tenant-" + java));
            String raw = "pyraw-" + f.run;
            f.keyEvent(raw, KeyEventType.REGISTERED, local.createKek("tenant-" + raw));
            KekRef pair = local.createKek("tenant-" + pub, KekKind.PUBLIC_KEY);
            PublicKek publicKek = local.publicKek(pair.keyName(), pair.version());
            f.publishKeyEvent(pub, SinkFixture.OPERATOR.next(pub, KeyEventType.REGISTERED, publicKek));

            // Python: a producer with the local KMS, and one with nothing but the tenant's public key.
            Path symSettings = tmp.resolve("sym.properties");
            Files.writeString(symSettings, "kms.provider=local\nkms.local.dir=" + kmsDir + "\n");
            Path keks = tmp.resolve("public-keks.properties");
            Files.writeString(
                    keks, pub + "=" + pair + ":" + Base64.getEncoder().encodeToString(publicKek.spki()) + "\n");
            Path pubSettings = tmp.resolve("pub.properties");
            Files.writeString(pubSettings, "embedseal.public-keks.file=" + keks + "\n");
            String pubTopic = "py-pub-" + f.run;
            f.broker.createTopic(pubTopic, 1, Map.of());
            String bootstrap = f.broker.bootstrapServers();
            List<String> symOut = PythonClient.run(
                    "seal",
                    "--bootstrap",
                    bootstrap,
                    "--topic",
                    f.sealedTopic,
                    "--settings",
                    symSettings.toString(),
                    "--tenant",
                    sym,
                    "--count",
                    "" + N,
                    "--dims",
                    "" + DIMS,
                    "--tamper");
            List<String> pubOut = PythonClient.run(
                    "seal",
                    "--bootstrap",
                    bootstrap,
                    "--topic",
                    pubTopic,
                    "--settings",
                    pubSettings.toString(),
                    "--tenant",
                    pub,
                    "--count",
                    "" + N,
                    "--dims",
                    "" + DIMS,
                    "--tamper");
            assertThat(JSON.readTree(symOut.get(0)).get("sent").asInt()).isEqualTo(N + 1);
            JsonNode pubSummary = JSON.readTree(pubOut.get(0));
            assertThat(pubSummary.get("sent").asInt()).isEqualTo(N + 1);
            assertThat(pubSummary.get("kms_wraps").asInt())
                    .as("KMS calls of the public-key producer")
                    .isZero();

            // A Python producer's raw events (its validation, Confluent wire format), sealed by the Java pipeline.
            InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
            int schemaId = registry.register(f.raw + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
            Map<String, String> p = f.pipeline("py-pipeline-" + f.run, tmp.resolve("streams"), kmsDir);
            p.put("streams.commit.interval.ms", "100");
            pipeline = EmbedsealPipeline.create(PipelineConfig.of(p, name -> null), registry);
            pipeline.start();
            assertThat(PythonClient.run(
                            "raw",
                            "--bootstrap",
                            bootstrap,
                            "--topic",
                            f.raw,
                            "--tenant",
                            raw,
                            "--count",
                            "" + N,
                            "--dims",
                            "" + DIMS,
                            "--schema-id",
                            "" + schemaId))
                    .containsExactly("{\"sent\": " + N + "}");

            Path luceneDir = tmp.resolve("lucene");
            Map<String, String> lucene = f.lucene(kmsDir, luceneDir);
            String pgDlq = "pg-dlq-" + f.run;
            f.broker.createTopic(pgDlq, 1, Map.of());
            String table = "py_" + f.run.replace('-', '_');
            Map<String, String> postgres = f.postgres(kmsDir, table, pgDlq);
            postgres.put("topics", f.sealedTopic + "," + pubTopic);
            connect.putConnector("lucene-" + f.run, lucene);
            connect.putConnector("postgres-" + f.run, postgres);
            SinkFixture.await(
                    WAIT,
                    "Python-sealed records in both stores, the tampered ones dead-lettered",
                    () -> TestIndexes.count(luceneDir, sym) == N
                            && TestIndexes.count(luceneDir, raw) == N
                            && SinkFixture.pgRows(table, raw).size() == N
                            && SinkFixture.pgRows(table, sym).size() == N
                            && SinkFixture.pgRows(table, pub).size() == N
                            && reasons(f, f.connectDlq).size() == 1
                            && reasons(f, pgDlq).size() == 2,
                    () -> Map.of(
                            "lucene",
                            TestIndexes.count(luceneDir, sym),
                            "lucene " + raw,
                            TestIndexes.count(luceneDir, raw),
                            "pg " + sym,
                            SinkFixture.pgRows(table, sym).size(),
                            "pg " + pub,
                            SinkFixture.pgRows(table, pub).size(),
                            "lucene dlq",
                            reasons(f, f.connectDlq),
                            "pg dlq",
                            reasons(f, pgDlq)));
            for (String t : List.of(sym, raw)) {
                for (int i = 0; i < N; i += 7) {
                    List<SearchHit> hits = TestIndexes.search(luceneDir, t, PythonClient.vector(i, DIMS), 1, 50);
                    assertThat(hits)
                            .as("search of " + t + " with doc-" + i + "'s vector")
                            .isNotEmpty();
                    assertThat(hits.get(0).embeddingId()).isEqualTo("doc-" + i);
                }
            }
            assertThat(reasons(f, f.connectDlq)).containsOnlyKeys(sym + "/doc-tampered");
            assertThat(reasons(f, pgDlq)).containsOnlyKeys(sym + "/doc-tampered", pub + "/doc-tampered");
            assertThat(reasons(f, pgDlq).values()).allSatisfy(m -> assertThat(m).contains("TAMPERED"));

            // A Python sealer that follows the signed key events: the public key comes from the verified REGISTERED
            // event (no file), and revoked, destroyed, unregistered and forged tenants are refused.
            String revoked = "pyrev-" + f.run;
            String destroyed = "pydes-" + f.run;
            String forged = "pyforged-" + f.run;
            String unknown = "pyunknown-" + f.run;
            for (String t : List.of(revoked, destroyed)) {
                KekRef k = local.createKek("tenant-" + t, KekKind.PUBLIC_KEY);
                f.publishKeyEvent(
                        t, SinkFixture.OPERATOR.next(t, KeyEventType.REGISTERED, local.publicKek(k.keyName(), 1)));
            }
            f.keyEvent(revoked, KeyEventType.REVOKED, new KekRef("local", "tenant-" + revoked, 1));
            f.keyEvent(destroyed, KeyEventType.DESTROYED, new KekRef("local", "tenant-" + destroyed, 1));
            KekRef rogueKek = local.createKek("tenant-" + forged, KekKind.PUBLIC_KEY);
            io.embedseal.control.KeyEventAuthor rogue = io.embedseal.control.KeyEventAuthor.creatingKey(
                    new LocalKms(tmp.resolve("rogue")).signingKeys().orElseThrow(), "rogue-signing", "attacker");
            f.publishKeyEvent(
                    forged, rogue.next(forged, KeyEventType.REGISTERED, local.publicKek(rogueKek.keyName(), 1)));
            String operatorKey = SinkFixture.operatorPublicKey();
            JsonNode outcome = sealFollowing(f, pubTopic, operatorKey, pub, revoked, destroyed, forged, unknown);
            assertThat(outcome.get(pub).asText()).isEqualTo("sealed");
            assertThat(outcome.get("kms_wraps").asText()).isEqualTo("0");
            assertThat(outcome.get(revoked).asText()).startsWith("refused").contains("REVOKED");
            assertThat(outcome.get(destroyed).asText()).startsWith("refused").contains("DESTROYED");
            assertThat(outcome.get(forged).asText()).startsWith("refused").contains("no registration");
            assertThat(outcome.get(unknown).asText()).startsWith("refused").contains("no registration");
            // The defence off: a sealer that trusts the rogue key seals the forged tenant to the rogue's public key.
            JsonNode trustingRogue = sealFollowing(
                    f,
                    pubTopic,
                    io.embedseal.control.KeyEventSignatures.encode(
                            rogue.signer().publicKey()),
                    forged);
            assertThat(trustingRogue.get(forged).asText()).isEqualTo("sealed");

            // The other way: Java seals, Python opens; a record tampered with in Java is refused in Python.
            String javaTopic = "java-sealed-" + f.run;
            f.broker.createTopic(javaTopic, 1, Map.of());
            Sealer sealer = new Sealer(Keyring.of(local));
            for (int i = 0; i < 10; i++) {
                byte[] env = sealer.seal(
                        java,
                        "doc-" + i,
                        new RecordVersion(1_700_000_000_000L, i),
                        PayloadType.EMBEDDING_EVENT_AVRO,
                        EmbeddingEventCodec.toCanonicalAvro(
                                Sealed.event(java, "doc-" + i, PythonClient.vector(i, DIMS))));
                if (i == 9) {
                    env[env.length - 1] ^= 1;
                }
                f.producer.send(
                        new ProducerRecord<>(javaTopic, (java + "/doc-" + i).getBytes(StandardCharsets.UTF_8), env));
            }
            f.producer.flush();
            Map<String, JsonNode> opened = new HashMap<>();
            for (String line : PythonClient.run(
                    "open",
                    "--bootstrap",
                    bootstrap,
                    "--topic",
                    javaTopic,
                    "--settings",
                    symSettings.toString(),
                    "--expect",
                    "10")) {
                JsonNode n = JSON.readTree(line);
                opened.put(n.get("key").asText(), n);
            }
            assertThat(opened).hasSize(10);
            for (int i = 0; i < 9; i++) {
                JsonNode n = opened.get(java + "/doc-" + i);
                float[] want = PythonClient.vector(i, DIMS);
                List<Float> got = new ArrayList<>();
                n.get("vector").forEach(x -> got.add((float) x.asDouble()));
                assertThat(got).as("doc-" + i).hasSize(DIMS);
                for (int j = 0; j < DIMS; j++) {
                    assertThat(Float.floatToIntBits(got.get(j))).isEqualTo(Float.floatToIntBits(want[j]));
                }
                assertThat(n.get("version").get(1).asLong()).isEqualTo(i);
            }
            assertThat(opened.get(java + "/doc-9").get("reason").asText()).isEqualTo("TAMPERED");
        }
    }

    /** A Python sealer following the fixture's key events, trusting {@code signer}: each tenant's outcome. */
    private JsonNode sealFollowing(SinkFixture f, String topic, String signer, String... tenants) throws Exception {
        Path settings = tmp.resolve("following-" + System.nanoTime() + ".properties");
        Files.writeString(
                settings,
                "bootstrap.servers=" + f.broker.bootstrapServers() + "\ntopics.key-events=" + f.keyEvents
                        + "\nkms.events.trusted-signers=" + signer + "\n");
        return JSON.readTree(PythonClient.run(
                        "seal-following",
                        "--bootstrap",
                        f.broker.bootstrapServers(),
                        "--topic",
                        topic,
                        "--settings",
                        settings.toString(),
                        "--tenants",
                        String.join(",", tenants))
                .get(0));
    }

    /** Dead-lettered records' errors, by record key. */
    private static Map<String, String> reasons(SinkFixture f, String topic) {
        Map<String, String> out = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : f.readAll(topic)) {
            Header h = r.headers().lastHeader("__connect.errors.exception.message");
            out.put(
                    new String(r.key(), StandardCharsets.UTF_8),
                    h == null ? "?" : new String(h.value(), StandardCharsets.UTF_8));
        }
        return out;
    }
}
