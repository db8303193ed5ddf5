package io.embedseal.app.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.embedseal.sinks.WorkerAllowlist;
import io.embedseal.sinks.lucene.LuceneSinkConnector;
import io.embedseal.sinks.postgres.PostgresSinkConnector;
import io.embedseal.topology.PipelineConfig;
import io.embedseal.topology.TopicNames;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.common.config.Config;
import org.apache.kafka.common.config.ConfigValue;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is checked against the project instead: the
 * services the configurations name exist and listen where they are expected, topics agree with what the pipeline
 * and the sinks use, images are pinned, start order and health checks are there, mounts point at files that exist,
 * and the Vault policies grant no more than each role needs.
 */
class DockerComposeTest {

    static final Path ROOT =
            Path.of(System.getProperty("embedseal.root", "..")).toAbsolutePath().normalize();
    static JsonNode compose;
    static JsonNode services;

    @BeforeAll
    static void read() throws IOException {
        compose = new ObjectMapper(new YAMLFactory())
                .readTree(ROOT.resolve("docker-compose.yml").toFile());
        services = compose.get("services");
    }

    static JsonNode service(String name) {
        JsonNode s = services.get(name);
        assertThat(s).as("service " + name + " in docker-compose.yml").isNotNull();
        return s;
    }

    static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        if (array != null) {
            array.forEach(n -> out.add(n.asText()));
        }
        return out;
    }

    /** Host-side paths of a service's bind mounts (those starting with ./), mapped to container paths. */
    static Map<String, String> binds(JsonNode service) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String v : texts(service.get("volumes"))) {
            String[] parts = v.split(":");
            if (parts[0].startsWith("./")) {
                out.put(parts[0], parts[1]);
            }
        }
        return out;
    }

    static Map<String, String> properties(String relative) throws IOException {
        java.util.Properties p = new java.util.Properties();
        try (var in = Files.newBufferedReader(ROOT.resolve(relative))) {
            p.load(in);
        }
        Map<String, String> out = new HashMap<>();
        p.stringPropertyNames().forEach(k -> out.put(k, p.getProperty(k)));
        return out;
    }

    static Map<String, String> connector(String relative) throws IOException {
        Map<String, String> out = new HashMap<>();
        new ObjectMapper()
                .readTree(ROOT.resolve(relative).toFile())
                .properties()
                .forEach(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    static String hostOf(String address) {
        String a = address.contains("://") ? address : "x://" + address;
        return URI.create(a.replace("jdbc:", "")).getHost();
    }

    static int portOf(String address) {
        String a = address.contains("://") ? address : "x://" + address;
        return URI.create(a.replace("jdbc:", "")).getPort();
    }

    @Test
    void everyImageIsPinnedToAnExactVersion() {
        services.properties().forEach(e -> {
            String image = e.getValue().path("image").asText();
            assertThat(image).as("service " + e.getKey() + " has an image").isNotEmpty();
            assertThat(image)
                    .as(e.getKey() + ": " + image)
                    .matches("[a-z0-9./-]+:[A-Za-z0-9._-]*\\d[A-Za-z0-9._-]*(@sha256:[0-9a-f]{64})?")
                    .doesNotEndWith(":latest");
        });
    }

    @Test
    void theTestcontainersSuite_runsTheComposeStacksImages() {
        assertThat(service("kafka").path("image").asText()).isEqualTo(RealStackIT.KAFKA_IMAGE);
        assertThat(service("connect").path("image").asText()).isEqualTo(RealStackIT.KAFKA_IMAGE);
        assertThat(service("schema-registry").path("image").asText()).isEqualTo(RealStackIT.REGISTRY_IMAGE);
        assertThat(service("vault").path("image").asText()).isEqualTo(RealStackIT.VAULT_IMAGE);
        assertThat(service("postgres").path("image").asText()).isEqualTo(RealStackIT.PGVECTOR_IMAGE);
    }

    @Test
    void thePipelinesConfiguration_namesServicesThatExist_onTheirPorts() throws IOException {
        Map<String, String> cfg = properties("deploy/embedseal/embedseal.properties");
        PipelineConfig config = PipelineConfig.of(cfg, name -> null); // every setting valid
        assertThat(config.keyringSettings().provider()).isEqualTo("vault");
        String kafka = hostOf(config.bootstrapServers());
        assertThat(service(kafka)
                        .path("environment")
                        .path("KAFKA_ADVERTISED_LISTENERS")
                        .asText())
                .contains("INTERNAL://" + config.bootstrapServers());
        String registry = cfg.get("schema.registry.url");
        assertThat(service(hostOf(registry))
                        .path("environment")
                        .path("SCHEMA_REGISTRY_LISTENERS")
                        .asText())
                .endsWith(":" + portOf(registry));
        String vault = cfg.get("kms.vault.address");
        assertThat(service(hostOf(vault))).isNotNull();
        assertThat(Files.readString(ROOT.resolve("deploy/vault/vault.hcl")))
                .contains("address     = \"0.0.0.0:" + portOf(vault) + "\"");

        JsonNode embedseal = service("embedseal");
        assertThat(texts(embedseal.get("ports")))
                .contains("127.0.0.1:" + cfg.get("http.port") + ":" + cfg.get("http.port"));
        assertThat(cfg.get("http.bind")).isEqualTo("0.0.0.0");
        // The token file the pipeline reads is in its own secrets volume, which vault-init writes.
        assertThat(cfg.get("kms.vault.token-file")).isEqualTo("/secrets/pipeline-token");
        assertThat(texts(embedseal.get("volumes"))).contains("pipeline-secrets:/secrets:ro");
        assertThat(texts(service("vault-init").get("volumes"))).contains("pipeline-secrets:/out/pipeline");
        assertThat(binds(embedseal)).containsValue("/etc/embedseal/embedseal.properties");

        Map<String, String> operator = properties("deploy/embedseal/operator.properties");
        PipelineConfig.of(operator, name -> null);
        assertThat(operator.get("bootstrap.servers")).isEqualTo(cfg.get("bootstrap.servers"));
        assertThat(operator.get("kms.vault.token-file")).isEqualTo("/secrets/operator-token");
    }

    @Test
    void prometheusScrapesThePipeline_andGrafanaGetsTheDashboard() throws IOException {
        Map<String, String> cfg = properties("deploy/embedseal/embedseal.properties");
        JsonNode prometheus = new ObjectMapper(new YAMLFactory())
                .readTree(ROOT.resolve("dashboards/prometheus.yml").toFile());
        List<String> targets = texts(prometheus
                .get("scrape_configs")
                .get(0)
                .get("static_configs")
                .get(0)
                .get("targets"));
        assertThat(targets).containsExactly("embedseal:" + cfg.get("http.port"));
        assertThat(services.has("embedseal")).isTrue();
        assertThat(binds(service("prometheus")))
                .containsEntry("./dashboards/prometheus.yml", "/etc/prometheus/prometheus.yml");
        // Rule files are resolved against the configuration's directory: each one must be mounted beside it.
        for (JsonNode rules : prometheus.get("rule_files")) {
            assertThat(binds(service("prometheus")))
                    .containsEntry("./dashboards/" + rules.asText(), "/etc/prometheus/" + rules.asText());
        }
        // The sink worker's job scrapes the JMX exporter agent the connect service starts with its configuration.
        JsonNode sinkJob = null;
        for (JsonNode job : prometheus.get("scrape_configs")) {
            if (job.get("job_name").asText().equals("embedseal-sink")) {
                sinkJob = job;
            }
        }
        assertThat(sinkJob)
                .as("job embedseal-sink in dashboards/prometheus.yml")
                .isNotNull();
        String sinkTarget =
                sinkJob.get("static_configs").get(0).get("targets").get(0).asText();
        Matcher agent = Pattern.compile("-javaagent:(\\S+)=(\\d+):(\\S+)")
                .matcher(service("connect")
                        .path("environment")
                        .path("KAFKA_OPTS")
                        .asText());
        assertThat(agent.find())
                .as("connect's KAFKA_OPTS starts the JMX exporter agent")
                .isTrue();
        assertThat(sinkTarget).isEqualTo("connect:" + agent.group(2));
        assertThat(binds(service("connect")))
                .containsEntry(
                        "./app/target/jmx-exporter",
                        Path.of(agent.group(1)).getParent().toString())
                .containsEntry("./deploy/connect/jmx-exporter.yml", agent.group(3));
        assertThat(Files.readString(ROOT.resolve("app/pom.xml")))
                .contains("<outputDirectory>${project.build.directory}/jmx-exporter</outputDirectory>")
                .contains("<destFileName>" + Path.of(agent.group(1)).getFileName() + "</destFileName>");
        assertThat(binds(service("grafana")))
                .containsEntry(
                        "./dashboards/embedseal-dashboard.json",
                        "/var/lib/grafana/dashboards/embedseal-dashboard.json");
        String provisioning = Files.readString(ROOT.resolve("deploy/grafana/provisioning/dashboards/embedseal.yml"));
        assertThat(provisioning).contains("path: /var/lib/grafana/dashboards");
        String datasource = Files.readString(ROOT.resolve("deploy/grafana/provisioning/datasources/prometheus.yml"));
        assertThat(datasource).contains("uid: prometheus").contains("url: http://prometheus:9090");
        assertThat(Files.readString(ROOT.resolve("dashboards/embedseal-dashboard.json")))
                .contains("\"uid\": \"prometheus\"")
                .doesNotContain("${DS_");
    }

    @Test
    void topicsAreCreatedWithTheirPolicies_andAgreeWithThePipelineAndTheSinks() throws IOException {
        String script = Files.readString(ROOT.resolve("deploy/kafka/create-topics.sh"));
        Map<String, String> created = new HashMap<>();
        Matcher m = Pattern.compile("(?m)^create (\\S+) (\\S+)(.*)$").matcher(script);
        while (m.find()) {
            created.put(m.group(1), m.group(2) + m.group(3));
        }
        TopicNames topics = PipelineConfig.of(properties("deploy/embedseal/embedseal.properties"), name -> null)
                .topics();
        assertThat(created)
                .containsKeys(topics.raw(), topics.sealed(), topics.dlq(), topics.keyEvents(), topics.audit());
        assertThat(created.get(topics.keyEvents()))
                .startsWith("1 ")
                .contains("cleanup.policy=delete")
                .contains("retention.ms=-1");
        assertThat(created.get(topics.dlq())).contains("retention.ms=1209600000");
        assertThat(created.get(topics.audit())).contains("retention.ms=-1");
        assertThat(created.get(topics.raw())).startsWith("\"$PARTITIONS\"");
        assertThat(service("kafka")
                        .path("environment")
                        .path("KAFKA_AUTO_CREATE_TOPICS_ENABLE")
                        .asText())
                .isEqualTo("false");

        for (String file : List.of("deploy/connect/lucene-sink.json", "deploy/connect/postgres-sink.json")) {
            Map<String, String> c = connector(file);
            assertThat(c.get("topics")).as(file).isEqualTo(topics.sealed());
            assertThat(c.get("embedseal.topics.key-events")).isEqualTo(topics.keyEvents());
            assertThat(c.get("embedseal.topics.audit")).isEqualTo(topics.audit());
            assertThat(created)
                    .as(file + "'s dead-letter topic")
                    .containsKey(c.get("errors.deadletterqueue.topic.name"));
            assertThat(service(hostOf(c.get("embedseal.bootstrap.servers")))).isNotNull();
            assertThat(service(hostOf(c.get("kms.vault.address")))).isNotNull();
            assertThat(c.get("kms.vault.token-file")).isEqualTo("/secrets/sink-token");
        }
    }

    @Test
    void theTopicScript_createsThePipelinesTopics_withTheirPolicies_onARealBroker() throws Exception {
        // kafka-topics.sh is a wrapper around TopicCommand; run the stack's script with that class against our broker.
        Path wrapper = Files.createTempFile("kafka-topics", ".sh");
        Files.writeString(
                wrapper,
                "#!/bin/sh\nexec \"" + Path.of(System.getProperty("java.home"), "bin", "java") + "\" -cp \""
                        + System.getProperty("java.class.path") + "\" org.apache.kafka.tools.TopicCommand \"$@\"\n");
        wrapper.toFile().setExecutable(true);
        io.embedseal.testkit.EmbeddedKafkaBroker broker = io.embedseal.testkit.EmbeddedKafkaBroker.shared();
        ProcessBuilder pb = new ProcessBuilder(
                        "bash", ROOT.resolve("deploy/kafka/create-topics.sh").toString())
                .redirectErrorStream(true);
        pb.environment().put("BOOTSTRAP", broker.bootstrapServers());
        pb.environment().put("PARTITIONS", "2");
        pb.environment().put("KAFKA_TOPICS", wrapper.toString());
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(output).isZero();

        TopicNames topics = PipelineConfig.of(properties("deploy/embedseal/embedseal.properties"), name -> null)
                .topics();
        org.apache.kafka.clients.admin.Admin admin = broker.admin(); // the broker's own: not closed here
        {
            Map<String, org.apache.kafka.clients.admin.TopicDescription> described = admin.describeTopics(
                            List.of(topics.raw(), topics.sealed(), topics.dlq(), topics.keyEvents(), topics.audit()))
                    .allTopicNames()
                    .get();
            assertThat(described.get(topics.raw()).partitions()).hasSize(2);
            assertThat(described.get(topics.keyEvents()).partitions()).hasSize(1);
            Map<String, String> events = topicConfig(admin, topics.keyEvents());
            assertThat(events).containsEntry("cleanup.policy", "delete").containsEntry("retention.ms", "-1");
            assertThat(topicConfig(admin, topics.dlq())).containsEntry("retention.ms", "1209600000");
            assertThat(topicConfig(admin, topics.audit())).containsEntry("retention.ms", "-1");
        }
    }

    static Map<String, String> topicConfig(org.apache.kafka.clients.admin.Admin admin, String topic) throws Exception {
        org.apache.kafka.common.config.ConfigResource r = new org.apache.kafka.common.config.ConfigResource(
                org.apache.kafka.common.config.ConfigResource.Type.TOPIC, topic);
        Map<String, String> out = new HashMap<>();
        admin.describeConfigs(List.of(r)).all().get().get(r).entries().forEach(e -> out.put(e.name(), e.value()));
        return out;
    }

    @Test
    void connectorConfigs_passTheConnectorsOwnValidation_andTheWorkerHasWhatTheyNeed() throws IOException {
        Map<String, String> lucene = connector("deploy/connect/lucene-sink.json");
        Map<String, String> postgres = connector("deploy/connect/postgres-sink.json");
        // The worker resolves ${file:...} (from secrets-init's file); here a value stands in for it.
        assertThat(postgres.get("postgres.password"))
                .isEqualTo("${file:/secrets/config/postgres.properties:postgres.password}");
        postgres.put("postgres.password", "resolved-by-the-worker");
        assertNoErrors(new LuceneSinkConnector().validate(lucene));
        assertNoErrors(new PostgresSinkConnector().validate(postgres));

        String pgHost = hostOf(postgres.get("postgres.url"));
        JsonNode pg = service(pgHost);
        assertThat(pg.path("image").asText()).startsWith("pgvector/pgvector:");
        assertThat(pg.path("environment").path("POSTGRES_USER").asText()).isEqualTo(postgres.get("postgres.user"));
        assertThat(pg.path("environment").has("POSTGRES_PASSWORD")).isFalse();
        assertThat(pg.path("environment").path("POSTGRES_PASSWORD_FILE").asText())
                .isEqualTo("/secrets/postgres-password");
        assertThat(postgres.get("postgres.url"))
                .endsWith("/" + pg.path("environment").path("POSTGRES_DB").asText());

        JsonNode connect = service("connect");
        Map<String, String> worker = properties("deploy/connect/connect-distributed.properties");
        assertThat(binds(connect)).containsEntry("./sinks/target/connect-plugin", worker.get("plugin.path"));
        assertThat(worker.get("consumer.isolation.level")).isEqualTo("read_committed");
        assertThat(worker.get("key.converter")).endsWith("ByteArrayConverter");
        assertThat(worker.get("config.providers")).isEqualTo("file");
        assertThat(texts(connect.get("volumes")))
                .contains("lucene-data:" + lucene.get("lucene.dir"), "connect-secrets:/secrets:ro");
        assertThat(texts(connect.get("ports"))).contains("127.0.0.1:8083:8083");
        assertThat(worker.get("listeners")).endsWith(":8083");
        String createConnectors = Files.readString(ROOT.resolve("deploy/connect/create-connectors.sh"));
        assertThat(createConnectors).contains("/connectors/*.json");
        assertThat(binds(service("connect-init")).values())
                .contains("/connectors/lucene.json", "/connectors/postgres.json");
    }

    static void assertNoErrors(Config config) {
        for (ConfigValue v : config.configValues()) {
            assertThat(v.errorMessages()).as(v.name()).isEmpty();
        }
    }

    @Test
    void startOrder_andHealthChecks() {
        for (String s : List.of("kafka", "schema-registry", "vault", "postgres", "connect", "embedseal")) {
            assertThat(service(s).has("healthcheck"))
                    .as(s + " has a health check")
                    .isTrue();
        }
        assertThat(service("kafka-init")
                        .path("depends_on")
                        .path("kafka")
                        .path("condition")
                        .asText())
                .isEqualTo("service_healthy");
        assertThat(service("vault-init")
                        .path("depends_on")
                        .path("vault")
                        .path("condition")
                        .asText())
                .isEqualTo("service_healthy");
        JsonNode pipelineDeps = service("embedseal").path("depends_on");
        assertThat(pipelineDeps.path("kafka-init").path("condition").asText())
                .isEqualTo("service_completed_successfully");
        assertThat(pipelineDeps.path("vault-init").path("condition").asText())
                .isEqualTo("service_completed_successfully");
        assertThat(pipelineDeps.path("schema-registry").path("condition").asText())
                .isEqualTo("service_healthy");
        JsonNode connectDeps = service("connect").path("depends_on");
        assertThat(connectDeps.path("kafka-init").path("condition").asText())
                .isEqualTo("service_completed_successfully");
        assertThat(connectDeps.path("vault-init").path("condition").asText())
                .isEqualTo("service_completed_successfully");
        assertThat(connectDeps.path("postgres").path("condition").asText()).isEqualTo("service_healthy");
        assertThat(service("connect-init")
                        .path("depends_on")
                        .path("connect")
                        .path("condition")
                        .asText())
                .isEqualTo("service_healthy");
    }

    @Test
    void everyBindMountPointsAtSomethingInTheRepository_orABuildOutput() {
        Set<String> buildOutputs = Set.of(
                "./sinks/target/connect-plugin",
                "./app/target/embedseal.jar",
                "./app/target/lib",
                "./app/target/jmx-exporter");
        services.properties()
                .forEach(e -> binds(e.getValue()).keySet().forEach(host -> {
                    if (!buildOutputs.contains(host)) {
                        assertThat(ROOT.resolve(host))
                                .as(e.getKey() + " mounts " + host)
                                .exists();
                    }
                }));
    }

    /** A Vault policy: path → capabilities. */
    static Map<String, Set<String>> policy(String file) throws IOException {
        String hcl = Files.readString(ROOT.resolve("deploy/vault/" + file)).replaceAll("(?m)#.*$", "");
        Map<String, Set<String>> out = new LinkedHashMap<>();
        Matcher m = Pattern.compile("path\\s+\"([^\"]+)\"\\s*\\{\\s*capabilities\\s*=\\s*\\[([^\\]]*)]\\s*}")
                .matcher(hcl);
        int blocks = 0;
        while (m.find()) {
            blocks++;
            Set<String> caps = new HashSet<>();
            for (String c : m.group(2).split(",")) {
                caps.add(c.trim().replace("\"", ""));
            }
            out.put(m.group(1), caps);
        }
        assertThat(hcl.split("path\\s+\"", -1).length - 1)
                .as(file + ": every path block parsed")
                .isEqualTo(blocks);
        return out;
    }

    @Test
    void vaultPolicies_grantNoMoreThanEachRoleNeeds() throws IOException {
        // What each role may do is tested on a real OpenBao (OpenBaoKmsContractTest, VaultTransitKmsOnOpenBaoTest);
        // this reads the files for grants no role needs.
        Map.Entry<String, Set<String>> lookupSelf = Map.entry("auth/token/lookup-self", Set.of("read"));
        // The public key that signs key events: read, never sign (VaultTransitSigningTest).
        Map.Entry<String, Set<String>> readSigningKey = Map.entry("transit/keys/embedseal-*", Set.of("read"));
        Map<String, Set<String>> pipeline = policy("embedseal-pipeline.hcl");
        assertThat(pipeline)
                .containsOnly(
                        Map.entry("transit/encrypt/tenant-*", Set.of("update")),
                        Map.entry("transit/decrypt/tenant-*", Set.of("update")),
                        Map.entry("transit/keys/tenant-*", Set.of("read")),
                        readSigningKey,
                        // its own audit-checkpoint key, and no other role's
                        Map.entry("transit/keys/audit-pipeline", Set.of("read")),
                        Map.entry("transit/sign/audit-pipeline", Set.of("update")),
                        lookupSelf);

        // A pipeline whose tenants all have public-key KEKs: no grant on any tenant key at all.
        assertThat(policy("embedseal-pipeline-public-key.hcl"))
                .containsOnly(
                        readSigningKey,
                        Map.entry("transit/keys/audit-pipeline", Set.of("read")),
                        Map.entry("transit/sign/audit-pipeline", Set.of("update")),
                        lookupSelf);

        Map<String, Set<String>> sink = policy("embedseal-sink.hcl");
        assertThat(sink)
                .containsOnly(
                        Map.entry("transit/decrypt/tenant-*", Set.of("update")),
                        readSigningKey,
                        Map.entry("transit/keys/audit-sink", Set.of("read")),
                        Map.entry("transit/sign/audit-sink", Set.of("update")),
                        lookupSelf);

        Map<String, Set<String>> operator = policy("embedseal-operator.hcl");
        assertThat(operator.keySet())
                .allMatch(p -> p.startsWith("transit/keys/tenant-*")
                        || p.equals("transit/keys/embedseal-*")
                        || p.equals("transit/sign/embedseal-*")
                        || p.equals("transit/keys/audit-*")
                        || p.equals("transit/sign/audit-operator")
                        || p.equals("transit/wrapping_key")
                        || p.equals("auth/token/lookup-self"));
        // Key import: the transport public key, read only.
        assertThat(operator.get("transit/wrapping_key")).containsExactly("read");
        // Every role's audit key is read to verify the trail; only the operator's own is signed with.
        assertThat(operator.get("transit/keys/audit-*")).containsExactly("read");
        assertThat(operator.get("transit/sign/audit-operator")).containsExactly("update");
        assertThat(operator.get("transit/keys/tenant-*")).isSubsetOf("create", "read", "update", "delete");
        assertThat(operator.get("transit/keys/tenant-*/rotate")).containsExactly("update");
        assertThat(operator.get("transit/keys/tenant-*/config")).containsExactly("update");
        // The key-event signing key: created, read and used, never deleted.
        assertThat(operator.get("transit/keys/embedseal-*")).containsExactlyInAnyOrder("create", "read", "update");
        assertThat(operator.get("transit/sign/embedseal-*")).containsExactly("update");

        for (Map<String, Set<String>> p : List.of(pipeline, sink, operator)) {
            p.forEach((path, caps) -> {
                assertThat(path)
                        .doesNotStartWith("sys/")
                        .doesNotContain("transit/*")
                        .isNotEqualTo("*");
                assertThat(caps).doesNotContain("sudo", "list", "deny");
            });
        }
        // Each role's token is made with its policy, and the services read the right one.
        String init = Files.readString(ROOT.resolve("deploy/vault/init.sh"));
        assertThat(init).contains("for role in pipeline sink operator").contains("-policy=\"embedseal-$role\"");
        assertThat(service("vault-init").path("environment").path("TENANTS").asText())
                .isEqualTo("acme globex initech");
        assertThat(init).contains("transit/keys/tenant-$t");
        assertThat(init)
                .contains("transit/keys/embedseal-operator-signing type=ed25519")
                .contains("transit/keys/audit-$role\" type=ed25519");
    }

    // --- safe as shipped (issue 19, item 7) ---------------------------------------------------------------

    /** Named-volume mounts of a service: volume → "containerPath" or "containerPath:ro". */
    static Map<String, String> namedMounts(JsonNode service) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String v : texts(service.get("volumes"))) {
            String[] parts = v.split(":", 2);
            if (!parts[0].startsWith("./")) {
                out.put(parts[0], parts[1]);
            }
        }
        return out;
    }

    /** The services that mount a named volume. */
    static Map<String, String> mountersOf(String volume) {
        Map<String, String> out = new LinkedHashMap<>();
        services.properties().forEach(e -> {
            String m = namedMounts(e.getValue()).get(volume);
            if (m != null) {
                out.put(e.getKey(), m);
            }
        });
        return out;
    }

    /** The services that write secrets; every other mount of a secrets volume must be read-only. */
    static final Set<String> SECRET_WRITERS = Set.of("secrets-init", "vault-init");

    /**
     * The user a service's process reads its secrets as: its {@code user:}, else what its image runs as (the
     * images' own defaults, written down here: apache/kafka and Confluent's images run as appuser 1000; the
     * PostgreSQL image's entrypoint reads POSTGRES_PASSWORD_FILE again after dropping to postgres, 999;
     * eclipse-temurin runs as root).
     */
    static int uidOf(String name) {
        JsonNode s = service(name);
        if (s.has("user")) {
            return Integer.parseInt(s.get("user").asText().split(":")[0]);
        }
        String image = s.path("image").asText();
        if (image.startsWith("apache/kafka:") || image.startsWith("confluentinc/")) {
            return 1000;
        }
        if (image.startsWith("pgvector/pgvector:")) {
            return 999;
        }
        assertThat(image)
                .as(name + ": an image whose default user this test knows")
                .startsWith("eclipse-temurin:");
        return 0;
    }

    /** secrets-init's writes: "volume file" → the uid it owns it. */
    static Map<String, Integer> secretFiles() throws IOException {
        String script = Files.readString(ROOT.resolve("deploy/secrets/init.sh"));
        Map<String, Integer> out = new LinkedHashMap<>();
        Matcher m = Pattern.compile("\\| put (\\S+) (\\S+) (\\d+)").matcher(script);
        while (m.find()) {
            out.put(m.group(1) + " " + m.group(2), Integer.parseInt(m.group(3)));
        }
        return out;
    }

    @Test
    void everyPublishedPort_isBoundToLoopbackOnly() {
        services.properties().forEach(e -> {
            for (String port : texts(e.getValue().get("ports"))) {
                assertThat(port)
                        .as(e.getKey() + " publishes " + port + ": on 127.0.0.1 only")
                        .matches("127\\.0\\.0\\.1:\\d+:\\d+");
            }
            assertThat(e.getValue().has("network_mode")).as(e.getKey()).isFalse();
        });
    }

    @Test
    void eachVaultToken_isInTheVolumeOfTheOneContainerThatUsesIt_0400_ownedByItsUser() throws IOException {
        JsonNode init = service("vault-init");
        Map<String, String> initMounts = namedMounts(init);
        Map<String, String> expected = Map.of("pipeline", "embedseal", "sink", "connect", "operator", "cli");
        Map<String, String> tokenFileOf = Map.of(
                "pipeline",
                properties("deploy/embedseal/embedseal.properties").get("kms.vault.token-file"),
                "sink",
                connector("deploy/connect/lucene-sink.json").get("kms.vault.token-file"),
                "operator",
                properties("deploy/embedseal/operator.properties").get("kms.vault.token-file"));
        for (Map.Entry<String, String> role : expected.entrySet()) {
            String r = role.getKey().toUpperCase(java.util.Locale.ROOT);
            String dir = init.path("environment").path(r + "_SECRETS_DIR").asText();
            String volume = initMounts.entrySet().stream()
                    .filter(e -> e.getValue().equals(dir))
                    .map(Map.Entry::getKey)
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("vault-init mounts no volume at " + dir));
            Map<String, String> readers = new LinkedHashMap<>(mountersOf(volume));
            readers.keySet().removeAll(SECRET_WRITERS);
            assertThat(readers)
                    .as("who mounts the " + role.getKey() + " token's volume " + volume)
                    .containsOnlyKeys(role.getValue());
            String mount = readers.get(role.getValue());
            assertThat(mount)
                    .as(role.getValue() + " mounts " + volume + " read-only")
                    .endsWith(":ro");
            assertThat(tokenFileOf.get(role.getKey()))
                    .isEqualTo(mount.replace(":ro", "") + "/" + role.getKey() + "-token");
            assertThat(Integer.parseInt(
                            init.path("environment").path(r + "_UID").asText()))
                    .as("the " + role.getKey() + " token's owner is the user " + role.getValue() + " runs as")
                    .isEqualTo(uidOf(role.getValue()));
        }
        String script = Files.readString(ROOT.resolve("deploy/vault/init.sh"));
        assertThat(script)
                .contains("chmod 0400 \"$f\"")
                .contains("chown \"$owner:$owner\" \"$f\"")
                .doesNotContain("0444");
        // No volume holds every token any more, and no service mounts another role's.
        assertThat(compose.get("volumes").has("vault-secrets")).isFalse();
    }

    @Test
    void everySecretVolume_isReadOnlyInTheOneContainerThatReadsIt_andItsFilesAre0400ForThatUser() throws IOException {
        Map<String, Integer> files = secretFiles();
        assertThat(files).hasSizeGreaterThan(10);
        String script = Files.readString(ROOT.resolve("deploy/secrets/init.sh"));
        assertThat(script)
                .contains("chmod 0400 \"$f\"")
                .contains("chown \"$3:$3\" \"$f\"")
                .contains("/dev/urandom");
        Map<String, String> writes = namedMounts(service("secrets-init"));
        for (Map.Entry<String, Integer> f : files.entrySet()) {
            String volume = f.getKey().split(" ")[0];
            assertThat(writes).as("secrets-init mounts " + volume).containsEntry(volume, "/out/" + volume);
            Map<String, String> readers = new LinkedHashMap<>(mountersOf(volume));
            readers.keySet().removeAll(SECRET_WRITERS);
            assertThat(readers).as("the one container reading " + volume).hasSize(1);
            Map.Entry<String, String> reader = readers.entrySet().iterator().next();
            assertThat(reader.getValue())
                    .as(reader.getKey() + " mounts " + volume)
                    .endsWith(":ro");
            assertThat(f.getValue())
                    .as(f.getKey() + " is owned by the user " + reader.getKey() + " runs as")
                    .isEqualTo(uidOf(reader.getKey()));
        }
        // The master copy and Vault's unseal key and root token: only their init service mounts them.
        assertThat(mountersOf("secrets-master")).containsOnlyKeys("secrets-init");
        assertThat(mountersOf("vault-admin")).containsOnlyKeys("vault-init");
        // No secret in the repository or in an environment variable.
        services.properties()
                .forEach(e -> e.getValue().path("environment").properties().forEach(v -> {
                    assertThat(v.getKey())
                            .as(e.getKey() + " " + v.getKey())
                            .doesNotEndWith("PASSWORD")
                            .doesNotContain("TOKEN");
                    assertThat(v.getValue().asText())
                            .doesNotContain("password=")
                            .doesNotContain("embedseal-dev");
                }));
        try (var tree = Files.walk(ROOT.resolve("deploy"))) {
            for (Path p : tree.filter(Files::isRegularFile).toList()) {
                assertThat(Files.readString(p)).as(p.toString()).doesNotContain("embedseal-dev");
            }
        }
        // Every JAAS file a JVM is pointed at is a file secrets-init writes into a volume that JVM's container mounts.
        Pattern jaas = Pattern.compile("-Djava\\.security\\.auth\\.login\\.config=(\\S+)");
        services.properties()
                .forEach(e -> e.getValue().path("environment").properties().forEach(v -> {
                    Matcher m = jaas.matcher(v.getValue().asText());
                    if (m.find()) {
                        Path file = Path.of(m.group(1));
                        String dir = file.getParent().toString();
                        String volume = namedMounts(e.getValue()).entrySet().stream()
                                .filter(x -> x.getValue().equals(dir + ":ro"))
                                .map(Map.Entry::getKey)
                                .findFirst()
                                .orElseThrow(() -> new AssertionError(e.getKey() + " mounts nothing at " + dir));
                        assertThat(files).as(e.getKey() + "'s " + file).containsKey(volume + " " + file.getFileName());
                    }
                }));
    }

    @Test
    void kafka_authenticatesEveryClient_andAuthorisesByTheDocumentedAcls() throws IOException {
        JsonNode env = service("kafka").path("environment");
        String protocols = env.path("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP").asText();
        for (String l : protocols.split(",")) {
            assertThat(l.split(":")[1]).as("listener " + l).startsWith("SASL_");
        }
        assertThat(env.path("KAFKA_LISTENERS").asText()).contains("CONTROLLER://localhost:");
        assertThat(env.path("KAFKA_AUTHORIZER_CLASS_NAME").asText())
                .isEqualTo("org.apache.kafka.metadata.authorizer.StandardAuthorizer");
        assertThat(env.path("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND").asText()).isEqualTo("false");
        assertThat(env.path("KAFKA_SUPER_USERS").asText()).isEqualTo("User:admin");

        // Every client logs in.
        for (String file : List.of(
                "deploy/embedseal/embedseal.properties",
                "deploy/embedseal/operator.properties",
                "deploy/embedseal/producer.properties")) {
            assertThat(properties(file)).as(file).containsEntry("client.security.protocol", "SASL_PLAINTEXT");
        }
        Map<String, String> worker = properties("deploy/connect/connect-distributed.properties");
        for (String prefix : List.of("", "producer.", "consumer.", "admin.")) {
            assertThat(worker).containsEntry(prefix + "security.protocol", "SASL_PLAINTEXT");
        }
        for (String file : List.of("deploy/connect/lucene-sink.json", "deploy/connect/postgres-sink.json")) {
            assertThat(connector(file)).containsEntry("embedseal.client.security.protocol", "SASL_PLAINTEXT");
        }
        assertThat(service("schema-registry")
                        .path("environment")
                        .path("SCHEMA_REGISTRY_KAFKASTORE_SECURITY_PROTOCOL")
                        .asText())
                .isEqualTo("SASL_PLAINTEXT");
        assertThat(service("kafka-init")
                        .path("environment")
                        .path("COMMAND_CONFIG")
                        .asText())
                .isEqualTo("/secrets/admin.properties");
        assertThat(texts(service("kafka-init").get("entrypoint")).toString()).contains("/deploy/create-acls.sh");

        // The ACLs the stack applies are the documented ones (TopicAclTest proves those on a secured broker), plus
        // the schema registry's, and every principal the broker knows has some.
        List<List<String>> documented = new ArrayList<>();
        for (List<String> c : TopicAclTest.documentedCommands()) {
            List<String> args = new ArrayList<>(c.subList(1, c.size()));
            int b = args.indexOf("--bootstrap-server");
            args.subList(b, b + 2).clear();
            int cc = args.indexOf("--command-config");
            args.subList(cc, cc + 2).clear();
            documented.add(args);
        }
        List<List<String>> applied = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^acl (.*)$")
                .matcher(Files.readString(ROOT.resolve("deploy/kafka/create-acls.sh")));
        while (m.find()) {
            applied.add(List.of(m.group(1).trim().split("\\s+")));
        }
        List<List<String>> registry =
                applied.stream().filter(a -> a.contains("User:registry")).toList();
        assertThat(applied.stream().filter(a -> !a.contains("User:registry")).toList())
                .as("deploy/kafka/create-acls.sh grants what docs/operations.md#topic-acls grants")
                .containsExactlyInAnyOrderElementsOf(documented);
        assertThat(registry).isNotEmpty();
        Set<String> principals = new HashSet<>();
        applied.forEach(a -> principals.add(a.get(a.indexOf("--allow-principal") + 1)));
        Matcher users = Pattern.compile("for u in ([a-z ]+); do")
                .matcher(Files.readString(ROOT.resolve("deploy/secrets/init.sh")));
        assertThat(users.find()).isTrue();
        for (String u : users.group(1).trim().split(" ")) {
            if (!u.equals("admin")) {
                assertThat(principals).as("ACLs for User:" + u).contains("User:" + u);
            }
        }
        assertThat(Files.readString(ROOT.resolve("deploy/kafka/create-topics.sh")))
                .contains("create _schemas 1");
    }

    @Test
    void vault_isAFileBackedServer_notDevMode_onAnImageWithTheFixes() throws IOException {
        JsonNode vault = service("vault");
        assertThat(texts(vault.get("command"))).containsExactly("server");
        assertThat(binds(vault)).containsEntry("./deploy/vault/vault.hcl", "/vault/config/vault.hcl");
        assertThat(namedMounts(vault)).containsEntry("vault-data", "/vault/file");
        String hcl = Files.readString(ROOT.resolve("deploy/vault/vault.hcl"));
        assertThat(hcl).contains("storage \"file\"").contains("path = \"/vault/file\"");
        services.properties()
                .forEach(e -> e.getValue()
                        .path("environment")
                        .properties()
                        .forEach(v -> assertThat(v.getKey())
                                .as(e.getKey() + ": no dev server, no root token handed out")
                                .doesNotStartWith("VAULT_DEV")
                                .isNotEqualTo("VAULT_TOKEN")));
        String init = Files.readString(ROOT.resolve("deploy/vault/init.sh"));
        assertThat(init)
                .contains("vault operator init -key-shares=1 -key-threshold=1")
                .contains("vault operator unseal");
        // CVE-2025-6000 is fixed in Vault 1.20.1 (and the Testcontainers suite runs the same image).
        for (String s : List.of("vault", "vault-init")) {
            String image = service(s).path("image").asText();
            Matcher v =
                    Pattern.compile("hashicorp/vault:(\\d+)\\.(\\d+)\\.(\\d+)").matcher(image);
            assertThat(v.matches()).as(image).isTrue();
            int[] version = {Integer.parseInt(v.group(1)), Integer.parseInt(v.group(2)), Integer.parseInt(v.group(3))};
            assertThat(version[0] * 1_000_000 + version[1] * 1_000 + version[2])
                    .as(image + " is 1.20.1 or later")
                    .isGreaterThanOrEqualTo(1_020_001);
        }
    }

    @Test
    void connectsRestApi_needsALogin_andConnectorsCannotReadTheWorkersFiles() throws IOException {
        Map<String, String> worker = properties("deploy/connect/connect-distributed.properties");
        assertThat(worker.get("rest.extension.classes"))
                .isEqualTo("org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension");
        assertThat(worker.get("connector.client.config.override.policy")).isEqualTo("None");
        assertThat(worker.get("config.providers.file.param.allowed.paths")).isEqualTo("/secrets/config");
        String initScript = Files.readString(ROOT.resolve("deploy/secrets/init.sh"));
        assertThat(initScript)
                .contains("KafkaConnect {")
                .contains("PropertyFileLoginModule required")
                .contains("file=\"/secrets/rest-users.properties\"");
        assertThat(secretFiles())
                .containsKeys(
                        "connect-secrets kafka-client.jaas",
                        "connect-secrets rest-users.properties",
                        "connect-client-secrets netrc");
        assertThat(service("connect").path("environment").path("KAFKA_OPTS").asText())
                .contains("-Djava.security.auth.login.config=/secrets/kafka-client.jaas");
        assertThat(Files.readString(ROOT.resolve("deploy/connect/create-connectors.sh")))
                .contains("--netrc-file");
        assertThat(service("connect-init").path("environment").path("NETRC").asText())
                .isEqualTo("/secrets/netrc");
        // The only ${file:...} a connector may resolve is under /secrets/config, which holds the database password
        // and not the worker's logins or the Vault token.
        assertThat(connector("deploy/connect/postgres-sink.json").get("postgres.password"))
                .startsWith("${file:/secrets/config/");
        assertThat(secretFiles().keySet().stream()
                        .filter(f -> f.startsWith("connect-secrets config/"))
                        .toList())
                .containsExactly("connect-secrets config/postgres.properties");
    }

    @Test
    void grafana_needsALogin() {
        JsonNode env = service("grafana").path("environment");
        assertThat(env.path("GF_AUTH_ANONYMOUS_ENABLED").asText()).isEqualTo("false");
        assertThat(env.has("GF_AUTH_ANONYMOUS_ORG_ROLE")).isFalse();
        assertThat(env.has("GF_SECURITY_ADMIN_PASSWORD")).isFalse();
        assertThat(env.path("GF_SECURITY_ADMIN_PASSWORD__FILE").asText()).isEqualTo("/secrets/admin-password");
        assertThat(namedMounts(service("grafana"))).containsEntry("grafana-secrets", "/secrets:ro");
    }

    @Test
    void thePipelinesStatusPage_needsAToken_thatPrometheusHas() throws IOException {
        assertThat(properties("deploy/embedseal/embedseal.properties"))
                .containsEntry("http.auth.token-file", "/secrets/status-token");
        assertThat(secretFiles())
                .containsEntry("pipeline-secrets status-token", 0)
                .containsEntry("prometheus-secrets status-token", 65534);
        JsonNode prometheus = new ObjectMapper(new YAMLFactory())
                .readTree(ROOT.resolve("dashboards/prometheus.yml").toFile());
        JsonNode job = prometheus.get("scrape_configs").get(0);
        assertThat(job.get("job_name").asText()).isEqualTo("embedseal");
        assertThat(job.path("authorization").path("credentials_file").asText()).isEqualTo("/secrets/status-token");
        assertThat(namedMounts(service("prometheus"))).containsEntry("prometheus-secrets", "/secrets:ro");
        // The health check uses the probe, which stays open.
        assertThat(service("embedseal").path("healthcheck").path("test").toString())
                .contains("/health/ready");
    }

    @Test
    void theWorker_decidesWhatAConnectorMayUse() throws IOException {
        JsonNode connect = service("connect");
        String named = connect.path("environment").path(WorkerAllowlist.ENV).asText();
        assertThat(binds(connect)).containsEntry("./deploy/connect/connect-allowlist.properties", named);
        Path allowlist = ROOT.resolve("deploy/connect/connect-allowlist.properties");
        System.setProperty(WorkerAllowlist.PROPERTY, allowlist.toString());
        try {
            Map<String, String> lucene = connector("deploy/connect/lucene-sink.json");
            Map<String, String> postgres = connector("deploy/connect/postgres-sink.json");
            postgres.put("postgres.password", "resolved-by-the-worker");
            assertNoErrors(new LuceneSinkConnector().validate(lucene));
            assertNoErrors(new PostgresSinkConnector().validate(postgres));
            List<List<String>> attempts = List.of(
                    List.of("lucene", "kms.vault.address", "http://attacker.example:8200"),
                    List.of("lucene", "kms.vault.token-file", "/secrets/rest-users.properties"),
                    List.of("postgres", "postgres.url", "jdbc:postgresql://attacker.example:5432/x"),
                    List.of("postgres", "embedseal.bootstrap.servers", "attacker.example:9092"));
            for (List<String> a : attempts) {
                boolean isLucene = a.get(0).equals("lucene");
                Map<String, String> c = new HashMap<>(isLucene ? lucene : postgres);
                c.put(a.get(1), a.get(2));
                Config validated =
                        isLucene ? new LuceneSinkConnector().validate(c) : new PostgresSinkConnector().validate(c);
                assertThat(validated.configValues().stream()
                                .filter(v -> v.name().equals(a.get(1)))
                                .flatMap(v -> v.errorMessages().stream())
                                .toList())
                        .as(a.get(1) + "=" + a.get(2))
                        .singleElement()
                        .asString()
                        .contains("not allowed by this Connect worker");
            }
        } finally {
            System.clearProperty(WorkerAllowlist.PROPERTY);
        }
    }
}
