package io.embedseal.app.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.app.CliRun;
import io.embedseal.app.TestPipelineConfig;
import io.embedseal.app.TestTraffic;
import io.embedseal.control.KeyEvents;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operator drives a tenant's whole key lifecycle through the CLI against a running pipeline on the in-process
 * broker and the local KMS: onboarding (an operator-managed key and a tenant's own key), rotate, revoke, restore,
 * destroy. After each step the test checks the key events on the topic, what the pipeline did with records, the
 * {@code status} output, and at the end the audit chain (and that {@code audit verify} catches tampering).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OperatorCliIntegrationTest {

    @TempDir
    static Path dir;

    static String prefix;
    static Path config;
    static EmbedsealPipeline pipeline;
    static TestTraffic traffic;
    static LocalKms kms;
    static final ObjectMapper JSON = new ObjectMapper();

    static CliRun cli(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--config");
        all.add(config.toString());
        all.add("--actor");
        all.add("ops-test");
        return CliRun.run(all.toArray(String[]::new));
    }

    @BeforeAll
    static void startPipeline() throws Exception {
        prefix = "ops-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        config = TestPipelineConfig.write(
                dir,
                EmbeddedKafkaBroker.shared().bootstrapServers(),
                prefix,
                "streams.commit.interval.ms=100",
                "kms.denied-cooldown-seconds=1",
                "http.port=0");
        pipeline = EmbedsealPipeline.create(PipelineConfig.load(config, name -> null));
        pipeline.createTopicsIfConfigured();
        pipeline.start();
        traffic = new TestTraffic(
                EmbeddedKafkaBroker.shared().bootstrapServers(), prefix, List.of(0.25f, -1.5f, 3f, 0.125f));
        kms = new LocalKms(dir.resolve("kms"));
    }

    @AfterAll
    static void stop() {
        if (pipeline != null) {
            pipeline.close(Duration.ofSeconds(10));
        }
        if (traffic != null) {
            traffic.close();
        }
        if (kms != null) {
            kms.close();
        }
    }

    static List<KeyEvent> keyEvents(String tenant) {
        List<KeyEvent> out = new ArrayList<>();
        TopicReader.read(
                Map.of("bootstrap.servers", EmbeddedKafkaBroker.shared().bootstrapServers()),
                prefix + "events",
                -1,
                r -> {
                    String key = new String(r.key(), StandardCharsets.UTF_8);
                    if (key.equals(tenant)) {
                        out.add(KeyEvents.read(key, r.value()).event());
                    }
                },
                null);
        return out;
    }

    static List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        TopicReader.read(
                Map.of("bootstrap.servers", EmbeddedKafkaBroker.shared().bootstrapServers()),
                topic,
                -1,
                out::add,
                null);
        return out;
    }

    static JsonNode status() throws Exception {
        CliRun r = cli("status", "--json", "--window", "600");
        assertThat(r.code()).as(r.err()).isZero();
        return JSON.readTree(r.out());
    }

    static void await(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(100);
        }
    }

    /** Waits until the running pipeline has applied the tenant's latest key event. */
    static void awaitPipelineSees(String tenant, String status) throws InterruptedException {
        await(
                "the pipeline to see " + tenant + " " + status,
                () -> pipeline.directory().get(tenant) != null
                        && pipeline.directory().get(tenant).status().name().equals(status));
    }

    static long sealedOf(JsonNode status, String tenant) {
        return status.get("tenants").get(tenant).get("sealed").asLong();
    }

    @Test
    @Order(1)
    void onboarding_anOperatorKey_andATenantsOwnKey() throws Exception {
        CliRun acme = cli("tenants", "add", "--tenant", "acme", "--create-key", "--reason", "contract 42");
        assertThat(acme.code()).as(acme.out() + acme.err()).isZero();
        assertThat(acme.out())
                .contains("created key local:tenant-acme:1")
                .contains("usable")
                .contains("REGISTERED");

        CliRun missing = cli("tenants", "add", "--tenant", "globex", "--key-name", "globex-own-key");
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("has no key globex-own-key").contains("bring your own key");
        assertThat(keyEvents("globex")).isEmpty();

        kms.createKek("globex-own-key"); // the tenant creates its own key and grants the pipeline access
        CliRun globex = cli("tenants", "add", "--tenant", "globex", "--key-name", "globex-own-key");
        assertThat(globex.code()).as(globex.err()).isZero();

        CliRun again = cli("tenants", "add", "--tenant", "acme");
        assertThat(again.code()).isZero();
        assertThat(again.out()).contains("already registered");
        assertThat(keyEvents("acme")).extracting(KeyEvent::getType).containsExactly(KeyEventType.REGISTERED);
        KeyEvent reg = keyEvents("acme").get(0);
        assertThat(reg.getActor()).isEqualTo("ops-test");
        assertThat(reg.getReason()).isEqualTo("contract 42");
        assertThat(keyEvents("globex").get(0).getKekName()).isEqualTo("globex-own-key");

        awaitPipelineSees("acme", "ACTIVE");
        awaitPipelineSees("globex", "ACTIVE");
        traffic.send("acme", 10);
        traffic.send("globex", 10);
        await("both tenants sealed", () -> readAll(prefix + "sealed").size() == 20);
        JsonNode s = status();
        assertThat(s.get("tenants").get("acme").get("state").asText()).isEqualTo("ACTIVE");
        assertThat(sealedOf(s, "acme")).isEqualTo(10);
        assertThat(s.get("tenants").get("globex").get("kek").asText()).isEqualTo("local:globex-own-key:1");
        assertThat(s.get("tenants").get("globex").get("deks").asInt()).isEqualTo(1);

        CliRun list = cli("tenants", "list");
        assertThat(list.out())
                .contains("acme")
                .contains("globex")
                .contains("local:globex-own-key:1")
                .contains("2 tenants");
    }

    @Test
    @Order(2)
    void rotate_sealsNewRecordsUnderTheNewVersion() throws Exception {
        CliRun r = cli("keys", "rotate", "--tenant", "acme");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("version 1 -> 2").contains("ROTATED published");
        assertThat(keyEvents("acme"))
                .extracting(KeyEvent::getType)
                .containsExactly(KeyEventType.REGISTERED, KeyEventType.ROTATED);
        assertThat(kms.describe("tenant-acme").latestVersion()).isEqualTo(2);
        await(
                "the pipeline to see acme's version 2",
                () -> pipeline.directory().get("acme").kekVersion() == 2);

        traffic.send("acme", 10);
        await("acme's new records", () -> {
            try {
                return sealedOf(status(), "acme") == 20;
            } catch (Exception e) {
                return false;
            }
        });
        JsonNode s = status();
        assertThat(s.get("tenants").get("acme").get("kek").asText()).isEqualTo("local:tenant-acme:2");
        assertThat(s.get("tenants").get("acme").get("deks").asInt())
                .as("one DEK per KEK version in the window")
                .isEqualTo(2);

        CliRun produced = cli("produce", "--tenants", "acme", "--records", "4", "--dims", "8");
        assertThat(produced.code()).as(produced.err()).isZero();
        assertThat(produced.out()).contains("produced 4 records (8 dims) for acme");
        await("the produced records sealed", () -> {
            try {
                return sealedOf(status(), "acme") == 24;
            } catch (Exception e) {
                return false;
            }
        });

        CliRun show = cli("tenants", "show", "--tenant", "acme");
        assertThat(show.out()).contains("latest version 2").contains("ROTATED").contains("REGISTERED");
    }

    @Test
    @Order(3)
    void revoke_stopsTheTenant_andIsIdempotent() throws Exception {
        CliRun r = cli("keys", "revoke", "--tenant", "globex", "--reason", "tenant request");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("disabled globex-own-key").contains("REVOKED published");
        assertThat(kms.describe("globex-own-key").state()).isEqualTo(KeyState.DISABLED);
        awaitPipelineSees("globex", "REVOKED");

        traffic.send("globex", 5);
        await("globex's records dead-lettered", () -> readAll(prefix + "dlq").size() == 5);
        JsonNode s = status();
        assertThat(s.get("tenants").get("globex").get("state").asText()).isEqualTo("REVOKED");
        assertThat(s.get("tenants")
                        .get("globex")
                        .get("dlq")
                        .get("TENANT_REVOKED")
                        .asInt())
                .isEqualTo(5);

        CliRun again = cli("keys", "revoke", "--tenant", "globex");
        assertThat(again.code()).isZero();
        assertThat(again.out()).contains("already REVOKED");
        assertThat(keyEvents("globex"))
                .extracting(KeyEvent::getType)
                .containsExactly(KeyEventType.REGISTERED, KeyEventType.REVOKED);

        CliRun human = cli("status");
        System.out.println(human.out()); // the operator's view, kept in the test report
        assertThat(human.out())
                .containsPattern("globex\\s+REVOKED\\s+local:globex-own-key:1")
                .contains("TENANT_REVOKED 5");
    }

    @Test
    @Order(4)
    void restore_resumesSealing() throws Exception {
        CliRun r = cli("keys", "restore", "--tenant", "globex");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("enabled globex-own-key").contains("RESTORED published");
        assertThat(kms.describe("globex-own-key").state()).isEqualTo(KeyState.ENABLED);
        awaitPipelineSees("globex", "ACTIVE");
        long before = sealedOf(status(), "globex");
        traffic.send("globex", 5);
        await("globex sealed again", () -> {
            try {
                return sealedOf(status(), "globex") == before + 5;
            } catch (Exception e) {
                return false;
            }
        });
        assertThat(cli("keys", "restore", "--tenant", "globex").out()).contains("nothing to restore");
        assertThat(status().get("tenants").get("globex").get("state").asText()).isEqualTo("ACTIVE");
    }

    @Test
    @Order(5)
    void reencryptIndex_writesTheLuceneIndexUnderAFreshKey_onlyWithTheSinkStopped() throws Exception {
        Path lucene = dir.resolve("lucene");
        io.embedseal.keyring.Keyring keyring =
                io.embedseal.keyring.Keyring.builder(kms).build();
        io.embedseal.serdes.envelope.Sealer sealer = new io.embedseal.serdes.envelope.Sealer(keyring);
        float[][] vectors = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
        io.embedseal.sinks.lucene.LuceneVectorStore sink = new io.embedseal.sinks.lucene.LuceneVectorStore(
                io.embedseal.sinks.lucene.LuceneIndexes.encrypted(lucene, kms, keyring.naming(), 0),
                io.embedseal.sinks.lucene.LuceneVectorStore.Options.defaults());
        try {
            for (int i = 0; i < vectors.length; i++) {
                sink.upsert(io.embedseal.app.TestRecords.stored(sealer, "acme", "e-" + i, vectors[i], true));
            }
            sink.commit();
            String before = io.embedseal.sinks.lucene.encryption.IndexKeyFile.read(lucene.resolve("acme"))
                    .orElseThrow()
                    .currentEntry()
                    .idHex();
            // The sink still holds the index's write lock: refused, nothing changed.
            CliRun running = cli("keys", "reencrypt-index", "--tenant", "acme", "--lucene-dir", lucene.toString());
            assertThat(running.code()).as(running.out() + running.err()).isEqualTo(1);
            assertThat(running.err()).contains("stop it first");
            sink.close();

            CliRun done = cli(
                    "keys",
                    "reencrypt-index",
                    "--tenant",
                    "acme",
                    "--lucene-dir",
                    lucene.toString(),
                    "--reason",
                    "test");
            assertThat(done.code()).as(done.out() + done.err()).isZero();
            assertThat(done.out()).contains("re-encrypted under index key").contains("retired " + before);
            io.embedseal.sinks.lucene.encryption.IndexKeyFile.Contents after =
                    io.embedseal.sinks.lucene.encryption.IndexKeyFile.read(lucene.resolve("acme"))
                            .orElseThrow();
            assertThat(after.keys()).hasSize(1);
            assertThat(after.currentEntry().idHex()).isNotEqualTo(before);
            try (io.embedseal.sinks.lucene.LuceneIndexes read =
                    io.embedseal.sinks.lucene.LuceneIndexes.encrypted(lucene, kms, keyring.naming(), 0)) {
                assertThat(io.embedseal.sinks.lucene.LuceneSearch.documentCount(read, "acme"))
                        .isEqualTo(3);
            }
        } finally {
            sink.close();
            keyring.close();
        }
    }

    @Test
    @Order(6)
    void destroy_needsConfirmation_saysWhatBecomesUnreadable_andIsTerminal() throws Exception {
        CliRun dry = cli("keys", "destroy", "--tenant", "globex");
        assertThat(dry.code()).isEqualTo(2);
        assertThat(dry.out())
                .contains("makes unreadable")
                .contains("15 sealed records of globex")
                .contains("globex-own-key");
        assertThat(dry.err()).contains("nothing was done").contains("--confirm globex");
        assertThat(kms.describe("globex-own-key").state()).isEqualTo(KeyState.ENABLED);

        CliRun wrong = cli("keys", "destroy", "--tenant", "globex", "--confirm", "acme");
        assertThat(wrong.code()).isEqualTo(2);

        CliRun r = cli("keys", "destroy", "--tenant", "globex", "--confirm", "globex", "--reason", "offboarding");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("DESTROYED published");
        assertThatThrownBy(() -> kms.describe("globex-own-key")).isInstanceOf(UnknownKeyException.class);
        awaitPipelineSees("globex", "DESTROYED");

        traffic.send("globex", 3);
        await(
                "destroyed tenant's records dead-lettered",
                () -> readAll(prefix + "dlq").size() == 8);
        JsonNode s = status();
        assertThat(s.get("tenants").get("globex").get("state").asText()).isEqualTo("DESTROYED");
        assertThat(s.get("tenants")
                        .get("globex")
                        .get("dlq")
                        .get("TENANT_DESTROYED")
                        .asInt())
                .isEqualTo(3);

        assertThat(cli("keys", "destroy", "--tenant", "globex", "--confirm", "globex")
                        .out())
                .contains("already DESTROYED");
        CliRun restore = cli("keys", "restore", "--tenant", "globex");
        assertThat(restore.code()).isEqualTo(1);
        assertThat(restore.err()).contains("DESTROYED");
        assertThat(cli("tenants", "add", "--tenant", "globex", "--key-name", "globex-own-key")
                        .err())
                .contains("terminal");
        assertThat(keyEvents("globex"))
                .extracting(KeyEvent::getType)
                .containsExactly(
                        KeyEventType.REGISTERED, KeyEventType.REVOKED, KeyEventType.RESTORED, KeyEventType.DESTROYED);
    }

    @Test
    @Order(7)
    void dlqInspect_summarisesByReasonAndTenant_withoutPayloads() throws Exception {
        CliRun r = cli("dlq", "inspect", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode n = JSON.readTree(r.out());
        assertThat(n.get("total").asInt()).isEqualTo(8);
        assertThat(n.get("byReason")
                        .get("TENANT_REVOKED")
                        .get("tenants")
                        .get("globex")
                        .asInt())
                .isEqualTo(5);
        assertThat(n.get("byReason").get("TENANT_DESTROYED").get("count").asInt())
                .isEqualTo(3);
        CliRun human = cli("dlq", "inspect");
        // No embedding id (the ids sent are e-0, e-1, ...); the topic name's random part may itself end in "e-".
        assertThat(human.out())
                .contains("8 dead letters")
                .contains("TENANT_REVOKED")
                .doesNotContain("sealedOriginal")
                .doesNotContainPattern("(?<![0-9a-f])e-[0-9]+");
    }

    @Test
    @Order(8)
    void auditVerify_findsEveryChainIntact_withTheOperatorsActions_andCatchesTampering() throws Exception {
        CliRun r = cli("audit", "verify", "--json");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        JsonNode n = JSON.readTree(r.out());
        assertThat(n.get("intact").asBoolean()).isTrue();
        List<String> actions = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> rec : readAll(prefix + "audit")) {
            JsonNode e = JSON.readTree(rec.value());
            if ("OPERATOR_ACTION".equals(e.path("kind").asText())) {
                assertThat(e.get("actor").asText()).isEqualTo("ops-test");
                actions.add(e.get("action").asText() + ":" + e.get("tenant").asText());
            }
        }
        assertThat(actions)
                .contains(
                        "REGISTERED:acme",
                        "REGISTERED:globex",
                        "ROTATED:acme",
                        "REVOKED:globex",
                        "RESTORED:globex",
                        "DESTROYED:globex");
        assertThat(n.get("chains").size())
                .as("the pipeline's chain and one per CLI run")
                .isGreaterThan(5);
        assertThat(n.get("authentic").asBoolean()).as("every chain signed").isTrue();

        // A closed CLI chain: the caller who knows it wrote one more entry than the topic holds sees the cut.
        ConsumerRecord<byte[], byte[]> lastOfCli = null;
        for (ConsumerRecord<byte[], byte[]> rec : readAll(prefix + "audit")) {
            if (new String(rec.key(), StandardCharsets.UTF_8).startsWith("cli-")) {
                lastOfCli = rec;
            }
        }
        JsonNode closing = JSON.readTree(lastOfCli.value());
        assertThat(closing.get("kind").asText()).isEqualTo("CHECKPOINT");
        assertThat(closing.get("final").asBoolean()).isTrue();
        String cliChain = closing.get("producer").asText();
        long cliEntries = closing.get("seq").asLong();
        CliRun cut = cli("audit", "verify", "--expect", cliChain + "=" + (cliEntries + 1));
        assertThat(cut.code()).as(cut.out()).isEqualTo(1);
        assertThat(cut.out()).contains("where " + (cliEntries + 1) + " were expected");

        // An entry computed from public data, appended to that closed chain: links up, but follows its final
        // checkpoint. (A hash-chain check alone accepted it: AuditForgeryTest runs that control.)
        java.util.TreeMap<String, Object> extra = new java.util.TreeMap<>();
        extra.put("kind", "OPERATOR_ACTION");
        extra.put("action", "RESTORED");
        extra.put("tenant", "globex");
        extra.put("actor", "ops-test");
        extra.put("time", java.time.Instant.now().toString());
        extra.put("producer", cliChain);
        extra.put("seq", cliEntries + 1);
        extra.put("prevHash", closing.get("hash").asText());
        java.util.TreeMap<String, Object> unhashed = new java.util.TreeMap<>(extra);
        extra.put(
                "hash",
                java.util.HexFormat.of()
                        .formatHex(java.security.MessageDigest.getInstance("SHA-256")
                                .digest(JSON.writeValueAsBytes(unhashed))));
        traffic.sendAsIs(prefix + "audit", cliChain, JSON.writeValueAsBytes(extra));
        CliRun appended = cli("audit", "verify");
        assertThat(appended.code()).isEqualTo(1);
        assertThat(appended.out()).contains("after the producer's final checkpoint");

        // A whole chain of someone's own with a fake shred receipt, and no checkpoint a trusted key signed.
        java.util.TreeMap<String, Object> fake = new java.util.TreeMap<>();
        fake.put("kind", "SHRED_RECEIPT");
        fake.put("tenant", "acme");
        fake.put("time", java.time.Instant.now().minusSeconds(3600).toString());
        fake.put("producer", "sink-lucene-0-fake");
        fake.put("seq", 1);
        fake.put("prevHash", "0".repeat(64));
        fake.put(
                "hash",
                java.util.HexFormat.of()
                        .formatHex(java.security.MessageDigest.getInstance("SHA-256")
                                .digest(JSON.writeValueAsBytes(fake))));
        traffic.sendAsIs(prefix + "audit", "sink-lucene-0-fake", JSON.writeValueAsBytes(fake));
        CliRun fakeChain = cli("audit", "verify");
        assertThat(fakeChain.code()).isEqualTo(1);
        assertThat(fakeChain.out()).contains("sink-lucene-0-fake has no final checkpoint and no signed checkpoint");

        // Tamper: re-send an operator's entry with its reason changed; the chain breaks there.
        ConsumerRecord<byte[], byte[]> victim = readAll(prefix + "audit").stream()
                .filter(rec -> new String(rec.value(), StandardCharsets.UTF_8).contains("\"DESTROYED\"")
                        && new String(rec.value(), StandardCharsets.UTF_8).contains("OPERATOR_ACTION"))
                .findFirst()
                .orElseThrow();
        String forged = new String(victim.value(), StandardCharsets.UTF_8).replace("offboarding", "routine");
        traffic.sendAsIs(
                prefix + "audit",
                new String(victim.key(), StandardCharsets.UTF_8),
                forged.getBytes(StandardCharsets.UTF_8));
        CliRun broken = cli("audit", "verify");
        assertThat(broken.code()).isEqualTo(1);
        assertThat(broken.out()).contains("BROKEN");
    }

    /**
     * A tenant whose KEK is a key pair: onboarded with its public key pinned in REGISTERED, rotated with the new
     * version's key pinned in ROTATED. The pipeline seals without the KMS, so disabling the key in the KMS alone does
     * not stop sealing (the sinks stop unwrapping at once); the REVOKED key event does (docs/key-lifecycle.md).
     */
    @Test
    @Order(9)
    void publicKeyKek_isPinned_rotated_andRevokedByItsKeyEvent() throws Exception {
        CliRun add = cli("tenants", "add", "--tenant", "initech", "--create-key", "--kek-kind", "public-key");
        assertThat(add.code()).as(add.out() + add.err()).isZero();
        io.embedseal.keyring.kms.PublicKek v1 = kms.publicKek("tenant-initech", 1);
        assertThat(v1).isNotNull();
        assertThat(add.out())
                .contains("created key local:tenant-initech:1")
                .contains("is a public-key KEK (X25519, " + v1.fingerprint())
                .contains("REGISTERED");
        assertThat(KeyEvents.publicKey(keyEvents("initech").get(0))).isEqualTo(v1.spki());
        await("the pipeline to pin initech's key", () -> pipeline.directory().publicKekFor("initech") != null);

        CliRun wrongKind =
                cli("tenants", "add", "--tenant", "hooli", "--key-name", "tenant-initech", "--kek-kind", "symmetric");
        assertThat(wrongKind.code()).isEqualTo(1);
        assertThat(wrongKind.err()).contains("is a public-key KEK, not symmetric");

        traffic.send("initech", 6);
        await("initech sealed", () -> sealedOfQuietly("initech") == 6);

        CliRun rotate = cli("keys", "rotate", "--tenant", "initech");
        assertThat(rotate.code()).as(rotate.err()).isZero();
        io.embedseal.keyring.kms.PublicKek v2 = kms.publicKek("tenant-initech", 2);
        assertThat(rotate.out()).contains(v2.fingerprint()).contains("pinned in ROTATED");
        assertThat(KeyEvents.publicKey(keyEvents("initech").get(1))).isEqualTo(v2.spki());
        await(
                "the pipeline to pin version 2",
                () -> pipeline.directory().get("initech").kekVersion() == 2);
        Path pinnedFile = dir.resolve("public-keks.properties");
        CliRun keks = cli("tenants", "public-keks", "--out", pinnedFile.toString());
        assertThat(keks.code()).as(keks.err()).isZero();
        assertThat(java.nio.file.Files.readString(pinnedFile))
                .as("the producers' file: version 2's key, from the verified ROTATED")
                .contains("initech=" + io.embedseal.keyring.PinnedPublicKeks.value(v2))
                .doesNotContain("acme=");

        // The key's owner disables it in the KMS only: sealing goes on (no KMS call to seal) ...
        kms.disable("tenant-initech");
        traffic.send("initech", 4);
        await("initech sealed under version 2 with its key disabled", () -> sealedOfQuietly("initech") == 10);
        assertThat(status().get("tenants").get("initech").get("kek").asText()).isEqualTo("local:tenant-initech:2");
        // ... but nothing opens any more on the tenant's side of the boundary.
        ConsumerRecord<byte[], byte[]> last = readAll(prefix + "sealed").stream()
                .filter(r -> new String(r.key(), StandardCharsets.UTF_8).startsWith("initech/"))
                .reduce((a, b) -> b)
                .orElseThrow();
        try (io.embedseal.keyring.Keyring sink = io.embedseal.keyring.Keyring.of(kms)) {
            io.embedseal.serdes.EmbeddingUnsealer unsealer =
                    new io.embedseal.serdes.EmbeddingUnsealer(new io.embedseal.serdes.envelope.Sealer(sink), null);
            assertThatThrownBy(() -> unsealer.unseal(last.key(), last.value()))
                    .hasCauseInstanceOf(io.embedseal.keyring.kms.KeyDeniedException.class);
        }

        // The key event stops the sealers.
        CliRun revoke = cli("keys", "revoke", "--tenant", "initech");
        assertThat(revoke.code()).as(revoke.err()).isZero();
        awaitPipelineSees("initech", "REVOKED");
        assertThat(pipeline.directory().publicKekFor("initech"))
                .as("the pin survives revocation")
                .isEqualTo(v2);
        traffic.send("initech", 3);
        await("initech's records dead-lettered", () -> {
            try {
                JsonNode dlq = status().get("tenants").get("initech").get("dlq");
                return dlq != null && dlq.path("TENANT_REVOKED").asInt() == 3;
            } catch (Exception e) {
                return false;
            }
        });
        assertThat(sealedOfQuietly("initech")).isEqualTo(10);
    }

    /**
     * Key import through the CLI, the three steps as the tenant and the operator run them: the tenant's key material
     * never reaches the operator (the file holds it wrapped for the KMS's transport key), and nothing is registered until
     * the KMS proves it holds the very key the tenant made.
     */
    @Test
    @Order(10)
    void importedKeys_areProvedTheTenants_beforeRegistration() throws Exception {
        Path params = dir.resolve("umbrella-params.json");
        Path wrapped = dir.resolve("umbrella-import.json");
        CliRun p = cli("keys", "import-params", "--tenant", "umbrella", "--out", params.toString());
        assertThat(p.code()).as(p.err()).isZero();
        assertThat(java.nio.file.Files.readString(params))
                .contains("rsa-oaep-sha256+aes-kwp")
                .contains("aes-256");
        // The tenant learns the transport key's fingerprint from the KMS itself (here the operator's output stands in).
        String transport = p.out().replaceAll("(?s).*transport key (SHA256:[0-9a-f]{64}).*", "$1");
        CliRun wrongTransport = CliRun.run(
                "keys",
                "wrap-for-import",
                "--params",
                params.toString(),
                "--out",
                wrapped.toString(),
                "--transport-fingerprint",
                "SHA256:" + "0".repeat(64));
        assertThat(wrongTransport.code()).isEqualTo(1);
        assertThat(wrongTransport.err()).contains("not the KMS's key; nothing wrapped");
        CliRun tenantSide = CliRun.run(
                "keys",
                "wrap-for-import",
                "--params",
                params.toString(),
                "--out",
                wrapped.toString(),
                "--transport-fingerprint",
                transport); // on the tenant's machine: no cluster
        assertThat(tenantSide.code()).as(tenantSide.err()).isZero();
        String kcv = tenantSide.out().replaceAll("(?s).*(KCV:[0-9a-f]{16}).*", "$1");
        assertThat(kcv).startsWith("KCV:");

        CliRun add = cli("tenants", "add", "--tenant", "umbrella", "--import-key", wrapped.toString(), "--expect", kcv);
        assertThat(add.code()).as(add.out() + add.err()).isZero();
        assertThat(add.out())
                .contains("imported symmetric key local:tenant-umbrella:1")
                .contains("the KMS holds the tenant's key: key check value " + kcv)
                .contains("REGISTERED");
        awaitPipelineSees("umbrella", "ACTIVE");
        // Another tenant cannot have the same file's material imported as its key, nor plant it under umbrella's key
        // name for a later onboarding: both are refused before the KMS is asked.
        CliRun notItsName =
                cli("tenants", "add", "--tenant", "wayne", "--import-key", wrapped.toString(), "--expect", kcv);
        assertThat(notItsName.code()).isEqualTo(2);
        assertThat(notItsName.err()).contains("not tenant wayne's");
        CliRun boundElsewhere = cli(
                "tenants",
                "add",
                "--tenant",
                "wayne",
                "--key-name",
                "tenant-umbrella",
                "--import-key",
                wrapped.toString(),
                "--expect",
                kcv);
        assertThat(boundElsewhere.code()).isEqualTo(1);
        assertThat(boundElsewhere.err()).contains("is bound to tenant umbrella").contains("nothing imported");
        traffic.send("umbrella", 3);
        await("umbrella sealed", () -> sealedOfQuietly("umbrella") == 3);

        // A proof that does not match (the import file's check made with another key): nothing is registered.
        Path paramsB = dir.resolve("wayne-params.json");
        Path wrappedB = dir.resolve("wayne-import.json");
        assertThat(cli("keys", "import-params", "--tenant", "wayne", "--out", paramsB.toString())
                        .code())
                .isZero();
        assertThat(CliRun.run("keys", "wrap-for-import", "--params", paramsB.toString(), "--out", wrappedB.toString())
                        .code())
                .isZero();
        String forged = java.nio.file.Files.readString(wrappedB)
                .replaceAll(
                        "\"keyCheck\" : \"[^\"]+\"",
                        "\"keyCheck\" : \""
                                + java.util.Base64.getEncoder()
                                        .encodeToString(io.embedseal.keyring.kms.KeyImportWrap.check(new byte[32]))
                                + "\"");
        java.nio.file.Files.writeString(wrappedB, forged);
        String tenantsKcv = "KCV:0000000000000000"; // what the tenant told the operator: not the forged file's
        CliRun swapped =
                cli("tenants", "add", "--tenant", "wayne", "--import-key", wrappedB.toString(), "--expect", tenantsKcv);
        assertThat(swapped.code()).isEqualTo(2);
        assertThat(swapped.err()).contains("the file is not the one the tenant made");
        String forgedKcv = io.embedseal.keyring.kms.KeyImportWrap.checkValue(
                io.embedseal.keyring.kms.KeyImportWrap.check(new byte[32]));
        CliRun refused = cli(
                "tenants",
                "add",
                "--tenant",
                "wayne",
                "--import-key",
                wrappedB.toString(),
                "--expect",
                forgedKcv); // an operator misled about the value: the KMS check still refuses
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("does NOT open the tenant's key check");
        assertThat(keyEvents("wayne")).isEmpty();

        // A key pair the tenant made: the KMS reports the tenant's public key, and REGISTERED pins it.
        Path paramsC = dir.resolve("stark-params.json");
        Path wrappedC = dir.resolve("stark-import.json");
        assertThat(cli(
                                "keys",
                                "import-params",
                                "--tenant",
                                "stark",
                                "--kek-kind",
                                "public-key",
                                "--out",
                                paramsC.toString())
                        .code())
                .isZero();
        CliRun tenantC =
                CliRun.run("keys", "wrap-for-import", "--params", paramsC.toString(), "--out", wrappedC.toString());
        assertThat(tenantC.code()).as(tenantC.err()).isZero();
        String fingerprint = tenantC.out().replaceAll("(?s).*(SHA256:[0-9a-f]{64}).*", "$1");
        CliRun addC = cli(
                "tenants", "add", "--tenant", "stark", "--import-key", wrappedC.toString(), "--expect", fingerprint);
        assertThat(addC.code()).as(addC.out() + addC.err()).isZero();
        assertThat(addC.out()).contains("the KMS holds the tenant's key pair: public key " + fingerprint);
        assertThat(io.embedseal.keyring.kms.PublicKek.fingerprint(
                        KeyEvents.publicKey(keyEvents("stark").get(0))))
                .isEqualTo(fingerprint);
    }

    static long sealedOfQuietly(String tenant) {
        try {
            return sealedOf(status(), tenant);
        } catch (Exception e) {
            return -1;
        }
    }
}
