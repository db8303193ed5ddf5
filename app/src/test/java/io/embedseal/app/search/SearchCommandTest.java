package io.embedseal.app.search;

import static io.embedseal.app.CliRun.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.app.CliRun;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.StoredRecord;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.PostgresServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code embedseal search} on a Lucene index and a PostgreSQL table the sinks wrote, with refusals by key state. */
class SearchCommandTest {

    @TempDir
    Path dir;

    Path kmsDir;
    Path luceneDir;
    LocalKms kms;
    Keyring keyring;
    Sealer sealer;
    final Map<String, KekRef> keks = new HashMap<>();
    final List<float[]> vectors = new ArrayList<>();

    @BeforeEach
    void indexSomeEmbeddings() {
        kmsDir = io.embedseal.app.TestSigning.installInto(dir.resolve("kms"));
        luceneDir = dir.resolve("lucene");
        kms = new LocalKms(kmsDir);
        keyring = Keyring.builder(kms).build();
        sealer = new Sealer(keyring);
        for (String t : List.of("acme", "globex", "initech")) {
            keks.put(t, kms.createKek(keyring.naming().kekNameFor(t)));
        }
        Random random = new Random(1);
        try (LuceneVectorStore store = new LuceneVectorStore(
                io.embedseal.sinks.lucene.LuceneIndexes.encrypted(luceneDir, kms, keyring.naming(), 1 << 20),
                LuceneVectorStore.Options.defaults())) {
            for (String t : List.of("acme", "globex", "initech")) {
                for (int i = 0; i < 40; i++) {
                    float[] v = vector(random);
                    if (t.equals("acme")) {
                        vectors.add(v);
                    }
                    store.upsert(record(t, "e-" + i, v, true));
                }
            }
            store.commit();
            store.shred(new TenantState(
                    "initech", TenantStatus.DESTROYED, "local", "tenant-initech", 1, "DESTROYED", Instant.now()));
        }
    }

    @AfterEach
    void close() {
        kms.close();
    }

    static float[] vector(Random random) {
        float[] v = new float[16];
        for (int i = 0; i < v.length; i++) {
            v[i] = random.nextFloat() * 2 - 1;
        }
        return v;
    }

    StoredRecord record(String tenant, String id, float[] v, boolean unseal) {
        return io.embedseal.app.TestRecords.stored(sealer, tenant, id, v, unseal);
    }

    static String inline(float[] v) {
        StringBuilder b = new StringBuilder();
        for (float f : v) {
            b.append(b.length() == 0 ? "" : ",").append(f);
        }
        return b.toString();
    }

    @Test
    void lucene_findsTheTenantsOwnEmbeddingFirst_fromAnInlineVectorOrAFile() throws Exception {
        CliRun r = run(
                "search",
                "--tenant",
                "acme",
                "--query",
                inline(vectors.get(7)),
                "--k",
                "3",
                "--lucene-dir",
                luceneDir.toString(),
                "--kms-setting",
                "kms.local.dir=" + kmsDir);
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out())
                .contains("tenant acme: 3 nearest in lucene index")
                .containsPattern("\\s1\\s+e-7\\s+1\\.0000");
        assertThat(r.err()).contains("key events were not checked");

        Path file = dir.resolve("query.json");
        Files.writeString(file, "[" + inline(vectors.get(9)).replace(",", ", ") + "]\n");
        CliRun json = run(
                "search",
                "--tenant",
                "acme",
                "--query",
                file.toString(),
                "--json",
                "--lucene-dir",
                luceneDir.toString(),
                "--kms-setting",
                "kms.local.dir=" + kmsDir);
        assertThat(json.code()).as(json.err()).isZero();
        JsonNode n = new ObjectMapper().readTree(json.out());
        assertThat(n.get("hits")).hasSize(10);
        assertThat(n.get("hits").get(0).get("id").asText()).isEqualTo("e-9");
    }

    @Test
    void shreddedTenant_isRefusedWithExitCode3_notAnEmptyResult() {
        CliRun r = run(
                "search",
                "--tenant",
                "initech",
                "--query",
                inline(vectors.get(0)),
                "--lucene-dir",
                luceneDir.toString(),
                "--kms-setting",
                "kms.local.dir=" + kmsDir);
        assertThat(r.code()).isEqualTo(SearchCommand.REFUSED);
        assertThat(r.err()).contains("refused").contains("destroyed").contains("documents=40");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void keyTheKmsNoLongerHas_isRefused() {
        kms.destroy(keks.get("globex").keyName()); // destroyed in the KMS; the sink has not shredded yet
        CliRun r = run(
                "search",
                "--tenant",
                "globex",
                "--query",
                inline(vectors.get(0)),
                "--lucene-dir",
                luceneDir.toString(),
                "--kms-setting",
                "kms.local.dir=" + kmsDir);
        assertThat(r.code()).isEqualTo(SearchCommand.REFUSED);
        assertThat(r.err()).contains("does not know tenant globex's key");
    }

    @Test
    void revokedTenant_onTheKeyEventTopic_isRefused() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String topic = "events-" + UUID.randomUUID();
        broker.createTopic(topic, 1, Map.of("cleanup.policy", "compact"));
        try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()),
                new StringSerializer(),
                new ByteArraySerializer())) {
            KekRef k = keks.get("acme");
            p.send(new ProducerRecord<>(
                            topic,
                            "acme",
                            io.embedseal.app.TestSigning.OPERATOR.next(
                                    "acme", KeyEventType.REGISTERED, k.provider(), k.keyName(), k.version())))
                    .get();
            p.send(new ProducerRecord<>(
                            topic,
                            "acme",
                            io.embedseal.app.TestSigning.OPERATOR.next(
                                    "acme", KeyEventType.REVOKED, k.provider(), k.keyName(), k.version())))
                    .get();
        }
        CliRun r = run(
                "search",
                "--tenant",
                "acme",
                "--query",
                inline(vectors.get(0)),
                "--json",
                "--lucene-dir",
                luceneDir.toString(),
                "--kms-setting",
                "kms.local.dir=" + kmsDir,
                "--bootstrap-servers",
                broker.bootstrapServers(),
                "--key-events-topic",
                topic);
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(SearchCommand.REFUSED);
        JsonNode n = new ObjectMapper().readTree(r.out());
        assertThat(n.get("refused").asText()).isEqualTo("REVOKED");
        assertThat(n.get("reason").asText()).contains("until the tenant RESTORES it");
    }

    @Test
    void anIdentityThatMayNotReadTheKey_isAcceptedOnlyWhenTheKeyEventsVouchForTheTenant() throws Exception {
        // A real Vault identity that may unwrap but not read the key: the sink's policy
        // (deploy/vault/embedseal-sink.hcl).
        io.embedseal.kms.testsupport.OpenBao.Namespace vault = io.embedseal.kms.testsupport.OpenBao.namespace();
        Path token = dir.resolve("reader-token");
        Files.writeString(token, vault.token("embedseal-sink")); // Vault answers 403 to describe
        // The index as a sink on that Vault writes it: its index key wrapped by acme's Vault key.
        Path vaultLucene = dir.resolve("lucene-vault");
        try (io.embedseal.keyring.kms.KmsProvider root = io.embedseal.keyring.KmsProviders.create(
                io.embedseal.keyring.KeyringSettings.of(vault.settings(), name -> vault.rootToken()))) {
            root.createKek("tenant-acme");
            try (LuceneVectorStore store = new LuceneVectorStore(
                    io.embedseal.sinks.lucene.LuceneIndexes.encrypted(
                            vaultLucene, root, io.embedseal.keyring.KekNaming.defaults(), 1 << 20),
                    LuceneVectorStore.Options.defaults())) {
                for (int i = 0; i < vectors.size(); i++) {
                    store.upsert(record("acme", "e-" + i, vectors.get(i), true));
                }
                store.commit();
            }
        }
        List<String> args = new ArrayList<>(List.of(
                "search",
                "--tenant",
                "acme",
                "--query",
                inline(vectors.get(7)),
                "--k",
                "1",
                "--lucene-dir",
                vaultLucene.toString(),
                "--kms",
                "vault",
                "--kms-setting",
                "kms.vault.address=" + vault.server().address(),
                "--kms-setting",
                "kms.vault.allow-insecure-http=true",
                "--kms-setting",
                "kms.vault.namespace=" + vault.name(),
                "--kms-setting",
                "kms.vault.token-file=" + token,
                "--kms-setting",
                "kms.events.trusted-signers="
                        + io.embedseal.control.KeyEventSignatures.encode(
                                io.embedseal.app.TestSigning.OPERATOR.signer().publicKey())));
        CliRun alone = run(args.toArray(String[]::new));
        assertThat(alone.code()).isEqualTo(SearchCommand.REFUSED);
        assertThat(alone.err()).contains("no key-event topic was read to vouch");

        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String topic = "events-" + UUID.randomUUID();
        broker.createTopic(topic, 1, Map.of("cleanup.policy", "compact"));
        try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()),
                new StringSerializer(),
                new ByteArraySerializer())) {
            p.send(new ProducerRecord<>(
                            topic,
                            "acme",
                            io.embedseal.app.TestSigning.OPERATOR.next(
                                    "acme", KeyEventType.REGISTERED, "vault", "tenant-acme", 1)))
                    .get();
        }
        args.addAll(List.of("--bootstrap-servers", broker.bootstrapServers(), "--key-events-topic", topic));
        CliRun vouched = run(args.toArray(String[]::new));
        assertThat(vouched.code()).as(vouched.err()).isZero();
        assertThat(vouched.out()).containsPattern("\\s1\\s+e-7\\s");
    }

    @Test
    void badUsage_isExitCode2_namingTheProblem() {
        assertThat(run("search", "--tenant", "acme", "--query", "1,2,x", "--lucene-dir", luceneDir.toString())
                        .err())
                .contains("element 2 is not a number");
        CliRun both = run(
                "search",
                "--tenant",
                "acme",
                "--query",
                "1",
                "--lucene-dir",
                "a",
                "--postgres-url",
                "jdbc:postgresql://x/y");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("mutually exclusive");
        assertThat(run("search", "--tenant", "acme", "--query", "1").code()).isEqualTo(2);
    }

    @Test
    void postgres_unsealsTheSealedRowsInMemory_forAnExactTopK() throws Exception {
        PostgresServer.unavailableBecause().ifPresent(why -> {
            if (PostgresServer.required()) {
                Assertions.fail(why);
            }
            Assumptions.abort(why);
        });
        String table = PostgresServer.freshTable("search");
        Map<String, String> s = new HashMap<>();
        s.put("embedseal.bootstrap.servers", "127.0.0.1:9");
        s.put(PostgresSinkConfig.URL, PostgresServer.URL);
        s.put(PostgresSinkConfig.USER, PostgresServer.USER);
        s.put(PostgresSinkConfig.PASSWORD, PostgresServer.PASSWORD);
        s.put(PostgresSinkConfig.TABLE, table);
        try (PostgresVectorStore store = PostgresVectorStore.open(new PostgresSinkConfig(s), "search-test", 0)) {
            for (int i = 0; i < vectors.size(); i++) {
                store.upsert(record("acme", "e-" + i, vectors.get(i), false));
            }
            store.flush();
        }
        CliRun r = run(
                "search",
                "--tenant",
                "acme",
                "--query",
                inline(vectors.get(11)),
                "--k",
                "2",
                "--postgres-url",
                PostgresServer.URL,
                "--postgres-user",
                PostgresServer.USER,
                "--postgres-password-env",
                "EMBEDSEAL_PG_PASSWORD_FOR_TEST_UNSET",
                "--postgres-table",
                table,
                "--kms-setting",
                "kms.local.dir=" + kmsDir);
        // No password in that variable: the server must refuse, and the command must say so without a stack trace.
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("failed");

        String withPassword = PostgresServer.URL + (PostgresServer.URL.contains("?") ? "&" : "?") + "password="
                + PostgresServer.PASSWORD;
        CliRun ok = run(
                "search",
                "--tenant",
                "acme",
                "--query",
                inline(vectors.get(11)),
                "--k",
                "2",
                "--postgres-url",
                withPassword,
                "--postgres-user",
                PostgresServer.USER,
                "--postgres-table",
                table,
                "--kms-setting",
                "kms.local.dir=" + kmsDir);
        assertThat(ok.code()).as(ok.out() + ok.err()).isZero();
        assertThat(ok.out()).contains("exact scan of 40 sealed rows").containsPattern("\\s1\\s+e-11\\s+1\\.0000");
    }

    @Test
    void postgresBlind_asksPgvectorForCandidates_overEncryptedVectors_andReranksThem() throws Exception {
        io.embedseal.testkit.PgliteServer db = io.embedseal.app.TestPglite.server();
        String table = PostgresServer.freshTable("blindsearch");
        Map<String, String> s = new HashMap<>();
        s.put("embedseal.bootstrap.servers", "127.0.0.1:9");
        s.put(PostgresSinkConfig.URL, db.url());
        s.put(PostgresSinkConfig.USER, io.embedseal.testkit.PgliteServer.USER);
        s.put(PostgresSinkConfig.TABLE, table);
        s.put(PostgresSinkConfig.MODE, "blind");
        s.put(PostgresSinkConfig.VECTOR_DIMENSIONS, String.valueOf(vectors.get(0).length));
        try (PostgresVectorStore store = PostgresVectorStore.open(
                new PostgresSinkConfig(s), "search-test", 0, keyring.kms(), keyring.naming())) {
            for (int i = 0; i < vectors.size(); i++) {
                store.upsert(record("acme", "e-" + i, vectors.get(i), true));
            }
            store.flush();
        }
        CliRun ok = run(
                "search",
                "--tenant",
                "acme",
                "--query",
                inline(vectors.get(11)),
                "--k",
                "2",
                "--mode",
                "blind",
                "--candidates",
                "20",
                "--postgres-url",
                db.url(),
                "--postgres-user",
                io.embedseal.testkit.PgliteServer.USER,
                "--postgres-table",
                table,
                "--kms-setting",
                "kms.local.dir=" + kmsDir);
        assertThat(ok.code()).as(ok.out() + ok.err()).isZero();
        assertThat(ok.out())
                .contains("blind index: 20 nearest ciphertexts")
                .containsPattern("\\s1\\s+e-11\\s+1\\.0000");

        CliRun tooFew = run(
                "search",
                "--tenant",
                "acme",
                "--query",
                "1",
                "--k",
                "5",
                "--mode",
                "blind",
                "--candidates",
                "3",
                "--postgres-url",
                db.url());
        assertThat(tooFew.code()).isEqualTo(2);
        assertThat(tooFew.err()).contains("--candidates");
        CliRun luceneSealed =
                run("search", "--tenant", "acme", "--query", "1", "--mode", "sealed", "--lucene-dir", "x");
        assertThat(luceneSealed.code()).isEqualTo(2);
        assertThat(luceneSealed.err()).contains("--mode");
    }
}
