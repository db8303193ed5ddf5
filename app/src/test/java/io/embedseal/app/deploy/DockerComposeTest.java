package io.embedseal.app.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
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
                .contains("PLAINTEXT://" + config.bootstrapServers());
        String registry = cfg.get("schema.registry.url");
        assertThat(service(hostOf(registry))
                        .path("environment")
                        .path("SCHEMA_REGISTRY_LISTENERS")
                        .asText())
                .endsWith(":" + portOf(registry));
        String vault = cfg.get("kms.vault.address");
        assertThat(service(hostOf(vault))
                        .path("environment")
                        .path("VAULT_DEV_LISTEN_ADDRESS")
                        .asText())
                .endsWith(":" + portOf(vault));

        JsonNode embedseal = service("embedseal");
        assertThat(texts(embedseal.get("ports"))).contains(cfg.get("http.port") + ":" + cfg.get("http.port"));
        assertThat(cfg.get("http.bind")).isEqualTo("0.0.0.0");
        // The token file the pipeline reads is in the volume vault-init writes.
        assertThat(cfg.get("kms.vault.token-file")).startsWith("/secrets/");
        assertThat(texts(embedseal.get("volumes"))).contains("vault-secrets:/secrets:ro");
        assertThat(texts(service("vault-init").get("volumes"))).contains("vault-secrets:/secrets");
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
        // The worker resolves ${file:...}; here the value is resolved as the FileConfigProvider would.
        Map<String, String> secrets = properties("deploy/connect/connect-secrets.properties");
        postgres.put("postgres.password", secrets.get("postgres.password"));
        assertNoErrors(new LuceneSinkConnector().validate(lucene));
        assertNoErrors(new PostgresSinkConnector().validate(postgres));

        String pgHost = hostOf(postgres.get("postgres.url"));
        JsonNode pg = service(pgHost);
        assertThat(pg.path("image").asText()).startsWith("pgvector/pgvector:");
        assertThat(pg.path("environment").path("POSTGRES_USER").asText()).isEqualTo(postgres.get("postgres.user"));
        assertThat(pg.path("environment").path("POSTGRES_PASSWORD").asText())
                .isEqualTo(secrets.get("postgres.password"));
        assertThat(postgres.get("postgres.url"))
                .endsWith("/" + pg.path("environment").path("POSTGRES_DB").asText());

        JsonNode connect = service("connect");
        Map<String, String> worker = properties("deploy/connect/connect-distributed.properties");
        assertThat(binds(connect)).containsEntry("./sinks/target/connect-plugin", worker.get("plugin.path"));
        assertThat(worker.get("consumer.isolation.level")).isEqualTo("read_committed");
        assertThat(worker.get("key.converter")).endsWith("ByteArrayConverter");
        assertThat(worker.get("config.providers")).isEqualTo("file");
        assertThat(texts(connect.get("volumes")))
                .contains("lucene-data:" + lucene.get("lucene.dir"), "vault-secrets:/secrets:ro");
        assertThat(binds(connect)).containsValue("/etc/embedseal/connect-secrets.properties");
        assertThat(texts(connect.get("ports"))).contains("8083:8083");
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
                        || p.equals("auth/token/lookup-self"));
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
}
