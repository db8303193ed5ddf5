package io.embedseal.app.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.app.CliRun;
import io.embedseal.app.ops.TopicReader;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.testkit.EmbeddedConnect;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

/**
 * The end-to-end scenario of the embedded integration tests, on the real services in containers, with the images
 * and the init scripts of docker-compose.yml: Kafka ({@code apache/kafka}), Confluent Schema Registry, Vault
 * Transit (set up by {@code deploy/vault/init.sh}: keys, least-privilege policies, tokens) and PostgreSQL with
 * pgvector. Onboarding, producing through the real registry, sealing, both sinks (the PostgreSQL one in pgvector
 * index mode), revocation and destruction with receipts, all through the CLI as an operator would.
 * Needs a Docker engine; skipped with a message where there is none.
 */
@DisplayName("Real stack in containers: Kafka, Confluent Schema Registry, Vault, PostgreSQL + pgvector (needs Docker)")
class RealStackIT {

    static final Path ROOT =
            Path.of(System.getProperty("embedseal.root", "..")).toAbsolutePath().normalize();
    static final String KAFKA_IMAGE = "apache/kafka:4.4.0";
    static final String REGISTRY_IMAGE = "confluentinc/cp-schema-registry:8.0.0";
    static final String VAULT_IMAGE = "hashicorp/vault:1.20.4";
    static final String PGVECTOR_IMAGE = "pgvector/pgvector:0.8.0-pg16";

    @TempDir
    static Path dir;

    static Network network;
    static KafkaContainer kafka;
    static GenericContainer<?> registry;
    static GenericContainer<?> vault;
    static PostgreSQLContainer postgres;
    static Path pipelineConfig;
    static Path operatorConfig;
    static Path sinkToken;
    static EmbedsealPipeline pipeline;
    static EmbeddedConnect connect;

    @BeforeAll
    static void startStack() throws Exception {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        Assumptions.assumeTrue(
                docker,
                "needs a Docker engine to run " + KAFKA_IMAGE + ", " + REGISTRY_IMAGE + ", " + VAULT_IMAGE
                        + " and " + PGVECTOR_IMAGE
                        + " (Testcontainers); none here, skipped. The same scenario ran embedded "
                        + "(SinkEndToEndIntegrationTest, OperatorCliIntegrationTest) and DockerComposeTest checked the compose file.");
        network = Network.newNetwork();
        kafka = new KafkaContainer(DockerImageName.parse(KAFKA_IMAGE))
                .withNetwork(network)
                .withNetworkAliases("kafka")
                .withListener("kafka:19092")
                .withCopyFileToContainer(
                        MountableFile.forHostPath(ROOT.resolve("deploy/kafka/create-topics.sh")),
                        "/deploy/create-topics.sh");
        kafka.start();
        Container.ExecResult topics =
                kafka.execInContainer("bash", "-c", "BOOTSTRAP=kafka:19092 PARTITIONS=3 bash /deploy/create-topics.sh");
        assertThat(topics.getExitCode()).as(topics.getStderr()).isZero();

        registry = new GenericContainer<>(DockerImageName.parse(REGISTRY_IMAGE))
                .withNetwork(network)
                .withExposedPorts(8081)
                .withEnv("SCHEMA_REGISTRY_HOST_NAME", "schema-registry")
                .withEnv("SCHEMA_REGISTRY_LISTENERS", "http://0.0.0.0:8081")
                .withEnv("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", "PLAINTEXT://kafka:19092")
                .waitingFor(Wait.forHttp("/subjects").forStatusCode(200).withStartupTimeout(Duration.ofMinutes(2)));
        vault = new GenericContainer<>(DockerImageName.parse(VAULT_IMAGE))
                .withNetwork(network)
                .withExposedPorts(8200)
                .withEnv("VAULT_DEV_ROOT_TOKEN_ID", "it-root")
                .withEnv("VAULT_DEV_LISTEN_ADDRESS", "0.0.0.0:8200")
                .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("deploy/vault")), "/deploy")
                .waitingFor(Wait.forHttp("/v1/sys/health").forStatusCode(200));
        postgres = new PostgreSQLContainer(DockerImageName.parse(PGVECTOR_IMAGE).asCompatibleSubstituteFor("postgres"));
        registry.start();
        vault.start();
        postgres.start();

        // The compose stack's own Vault init: Transit, tenant keys, policies, one token per role.
        Container.ExecResult init = vault.execInContainer(
                "sh",
                "-c",
                "mkdir -p /secrets && VAULT_ADDR=http://127.0.0.1:8200 "
                        + "VAULT_TOKEN=it-root SECRETS_DIR=/secrets POLICY_DIR=/deploy TENANTS='acme globex initech' sh /deploy/init.sh");
        assertThat(init.getExitCode()).as(init.getStdout() + init.getStderr()).isZero();
        Path pipelineToken = token("pipeline");
        Path operatorToken = token("operator");
        sinkToken = token("sink");

        String vaultAddress = "http://" + vault.getHost() + ":" + vault.getMappedPort(8200);
        String registryUrl = "http://" + registry.getHost() + ":" + registry.getMappedPort(8081);
        List<String> common = List.of(
                "bootstrap.servers=" + kafka.getBootstrapServers(),
                "application.id=embedseal-it",
                "state.dir=" + dir.resolve("streams"),
                "schema.registry.url=" + registryUrl,
                "kms.provider=vault",
                "kms.vault.address=" + vaultAddress,
                "streams.commit.interval.ms=200",
                "http.port=0");
        pipelineConfig = dir.resolve("embedseal.properties");
        Files.write(pipelineConfig, concat(common, "kms.vault.token-file=" + pipelineToken));
        operatorConfig = dir.resolve("operator.properties");
        Files.write(operatorConfig, concat(common, "kms.vault.token-file=" + operatorToken));

        pipeline = EmbedsealPipeline.create(PipelineConfig.load(pipelineConfig, name -> null));
        pipeline.start();
    }

    static List<String> concat(List<String> a, String b) {
        List<String> out = new ArrayList<>(a);
        out.add(b);
        return out;
    }

    static Path token(String role) throws Exception {
        Container.ExecResult r = vault.execInContainer("cat", "/secrets/" + role + "-token");
        assertThat(r.getExitCode()).isZero();
        Path f = dir.resolve(role + "-token");
        Files.writeString(f, r.getStdout().strip());
        return f;
    }

    @AfterAll
    static void stopStack() {
        if (connect != null) {
            connect.close();
        }
        if (pipeline != null) {
            pipeline.close(Duration.ofSeconds(10));
        }
        for (GenericContainer<?> c : new GenericContainer<?>[] {postgres, vault, registry, kafka}) {
            if (c != null) {
                c.stop();
            }
        }
        if (network != null) {
            network.close();
        }
    }

    static CliRun cli(Path config, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--config", config.toString(), "--actor", "it"));
        return CliRun.run(all.toArray(String[]::new));
    }

    static long count(String topic) {
        return TopicReader.read(Map.of("bootstrap.servers", kafka.getBootstrapServers()), topic, -1, r -> {}, null);
    }

    static void await(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(200);
        }
    }

    /** A connector file from deploy/connect with the in-network addresses replaced by the containers' mapped ones. */
    static Map<String, String> connector(String file) throws Exception {
        Map<String, String> c = new HashMap<>();
        new ObjectMapper()
                .readTree(ROOT.resolve("deploy/connect/" + file).toFile())
                .properties()
                .forEach(e -> c.put(e.getKey(), e.getValue().asText()));
        c.put("embedseal.bootstrap.servers", kafka.getBootstrapServers());
        // This test's broker takes plain connections; the compose stack's login settings do not apply.
        c.keySet().removeIf(k -> k.startsWith("embedseal.client."));
        c.put("kms.vault.address", "http://" + vault.getHost() + ":" + vault.getMappedPort(8200));
        c.put("kms.vault.token-file", sinkToken.toString());
        if (c.containsKey("lucene.dir")) {
            c.put("lucene.dir", dir.resolve("lucene").toString());
        }
        if (c.containsKey("postgres.url")) {
            c.put("postgres.url", postgres.getJdbcUrl());
            c.put("postgres.user", postgres.getUsername());
            c.put("postgres.password", postgres.getPassword());
        }
        return c;
    }

    @Test
    void onboardProduceSealSinkRevokeDestroy_onTheRealServices() throws Exception {
        for (String t : List.of("acme", "globex", "initech")) {
            CliRun r = cli(pipelineConfig, "tenants", "add", "--tenant", t);
            assertThat(r.code()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("vault:tenant-" + t + ":1 is usable");
        }
        await(
                "the pipeline to see the tenants",
                () -> pipeline.directory().snapshot().size() == 3);

        CliRun produced = cli(pipelineConfig, "produce", "--tenants", "acme,globex,initech", "--records", "50");
        assertThat(produced.code()).as(produced.err()).isZero();
        await("150 records sealed", () -> count("embeddings.sealed") >= 150);
        assertThat(count("embeddings.dlq")).isZero();

        connect = EmbeddedConnect.start(kafka.getBootstrapServers(), dir.resolve("connect.offsets"), Map.of());
        connect.putConnector("embedseal-lucene", connector("lucene-sink.json"));
        connect.putConnector("embedseal-postgres", connector("postgres-sink.json"));
        connect.awaitRunning("embedseal-lucene", EmbeddedConnect.startTimeout());
        connect.awaitRunning("embedseal-postgres", EmbeddedConnect.startTimeout());
        Path lucene = dir.resolve("lucene");
        await(
                "every tenant indexed",
                () -> List.of("acme", "globex", "initech").stream().allMatch(t -> luceneCount(lucene, t) == 50));
        await(
                "every vector in pgvector",
                () -> pgCount("SELECT count(*) FROM embedseal_embeddings WHERE embedding IS NOT NULL") == 150);

        CliRun revoke = cli(operatorConfig, "keys", "revoke", "--tenant", "globex", "--reason", "it");
        assertThat(revoke.code()).as(revoke.err()).isZero();
        await(
                "the pipeline to see globex revoked",
                () -> pipeline.directory().get("globex").status().name().equals("REVOKED"));
        cli(pipelineConfig, "produce", "--tenants", "globex", "--records", "5", "--seed", "7");
        await("globex's records dead-lettered", () -> count("embeddings.dlq") == 5);
        CliRun dlq = cli(pipelineConfig, "dlq", "inspect", "--json");
        assertThat(new ObjectMapper()
                        .readTree(dlq.out())
                        .get("byReason")
                        .get("TENANT_REVOKED")
                        .get("tenants")
                        .get("globex")
                        .asInt())
                .isEqualTo(5);

        CliRun destroy = cli(operatorConfig, "keys", "destroy", "--tenant", "initech", "--confirm", "initech");
        assertThat(destroy.code()).as(destroy.out() + destroy.err()).isZero();
        await(
                "initech shredded from both stores",
                () -> LuceneSearch.shredded(lucene, "initech").isPresent()
                        && pgCount("SELECT count(*) FROM embedseal_embeddings WHERE tenant = 'initech'") == 0);
        List<String> receipts = new ArrayList<>();
        TopicReader.read(
                Map.of("bootstrap.servers", kafka.getBootstrapServers()),
                "keyring.audit",
                -1,
                r -> {
                    String v = new String(r.value(), StandardCharsets.UTF_8);
                    if (v.contains("SHRED_RECEIPT")) {
                        receipts.add(v);
                    }
                },
                null);
        assertThat(receipts).hasSizeGreaterThanOrEqualTo(3); // lucene-0, postgresql-0, postgresql-1
        assertThat(cli(pipelineConfig, "audit", "verify").code()).isZero();
        assertThat(luceneCount(lucene, "acme")).isEqualTo(50);
    }

    static long pgCount(String sql) {
        try (Connection c = DriverManager.getConnection(
                        postgres.getJdbcUrl(), postgres.getUsername(), postgres.getPassword());
                PreparedStatement ps = c.prepareStatement(sql);
                ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        } catch (java.sql.SQLException e) {
            return -1; // the table is not there yet
        }
    }

    /** Live records the Lucene sink indexed for the tenant, read through the tenant's index key as the sink wrote it. */
    private long luceneCount(Path lucene, String tenant) {
        io.embedseal.keyring.KeyringSettings ks;
        try {
            ks = new io.embedseal.sinks.lucene.LuceneSinkConfig(connector("lucene-sink.json")).keyringSettings();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        try (io.embedseal.sinks.lucene.LuceneIndexes indexes = io.embedseal.sinks.lucene.LuceneIndexes.encrypted(
                lucene, io.embedseal.keyring.KmsProviders.create(ks), ks.naming(), 1 << 20, true)) {
            return LuceneSearch.documentCount(indexes, tenant);
        }
    }
}
