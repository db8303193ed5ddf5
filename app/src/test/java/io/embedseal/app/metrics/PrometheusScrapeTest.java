package io.embedseal.app.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.embedseal.app.TestPipelineConfig;
import io.embedseal.app.TestTraffic;
import io.embedseal.app.http.StatusServer;
import io.embedseal.app.http.StatusServerSettings;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's package) scrapes a running pipeline and a Kafka Connect worker running the Lucene sink,
 * with the shipped scrape configuration ({@code dashboards/prometheus.yml}, only its targets replaced by this test's
 * loopback addresses and its intervals shortened) and the shipped alert rules. Then: every target is up, every query
 * of the Grafana dashboard returns at least one series with a number, every metric the alert rules name exists,
 * every rule evaluates without error, and the alerts this run provokes (a degraded tenant, dead letters) are pending
 * or firing while those it does not provoke stay inactive.
 * <p>
 * The sink worker runs in a JVM of its own, as {@code connect-standalone.sh} would run it, with the Prometheus JMX
 * exporter agent and the shipped {@code deploy/connect/jmx-exporter.yml}: what docker-compose's connect service does.
 * Logs, the derived configuration and what every query returned are kept in {@code app/target/prometheus-test}.
 */
@Tag("prometheus")
class PrometheusScrapeTest {

    static final Duration WAIT = Duration.ofSeconds(90);
    static final Path OUT = Path.of("target", "prometheus-test").toAbsolutePath();
    static final Path AGENT =
            Path.of("target", "jmx-exporter", "jmx_prometheus_javaagent.jar").toAbsolutePath();
    static final String CONNECTOR = "embedseal-lucene";
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path dir;

    static String prefix;
    static EmbedsealPipeline pipeline;
    static StatusServer server;
    static Process connect;
    static Process prometheus;
    static final String STATUS_TOKEN = "prometheus-scrape-test-" + UUID.randomUUID();
    static URI prometheusUrl;
    static URI connectRest;
    static URI sinkMetrics;
    static TestTraffic traffic;

    @BeforeAll
    static void start() throws Exception {
        Path prometheusBinary = PrometheusTools.prometheus();
        assertThat(AGENT)
                .as("the JMX exporter agent, copied by the build (app/pom.xml: copy-jmx-exporter-agent)")
                .exists();
        Files.createDirectories(OUT);
        prefix = "prom-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        String bootstrap = EmbeddedKafkaBroker.shared().bootstrapServers();

        // The pipeline, with its HTTP server, as `embedseal run` has it.
        Path config = TestPipelineConfig.write(dir, bootstrap, prefix, "streams.commit.interval.ms=100");
        pipeline = EmbedsealPipeline.create(PipelineConfig.load(config, name -> null));
        pipeline.createTopicsIfConfigured();
        pipeline.start();
        // With a status token, as the compose stack has it: Prometheus scrapes with it (credentials_file).
        server = StatusServer.start(
                pipeline, "127.0.0.1", 0, StatusServerSettings.defaults().withToken(STATUS_TOKEN));
        traffic = new TestTraffic(bootstrap, prefix, List.of(0.5f, 1.5f, -2f, 4f));

        // The sink worker: its own JVM, the JMX exporter agent with the shipped configuration.
        int agentPort = freePort();
        int restPort = freePort();
        Path worker = dir.resolve("worker.properties");
        store(
                worker,
                Map.of(
                        "bootstrap.servers",
                        bootstrap,
                        "key.converter",
                        "org.apache.kafka.connect.converters.ByteArrayConverter",
                        "value.converter",
                        "org.apache.kafka.connect.converters.ByteArrayConverter",
                        "offset.storage.file.filename",
                        dir.resolve("connect.offsets").toString(),
                        "offset.flush.interval.ms",
                        "1000",
                        "plugin.discovery",
                        "service_load",
                        "listeners",
                        "http://127.0.0.1:" + restPort,
                        "consumer.isolation.level",
                        "read_committed"));
        Path connector = dir.resolve("lucene-sink.properties");
        store(connector, luceneConnector(bootstrap));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        connect = new ProcessBuilder(
                        java.toString(),
                        "-Xmx384m",
                        "-XX:+UseSerialGC",
                        "-javaagent:" + AGENT + "=127.0.0.1:" + agentPort + ":"
                                + PrometheusTools.ROOT.resolve("deploy/connect/jmx-exporter.yml"),
                        "-cp",
                        System.getProperty("java.class.path"),
                        "org.apache.kafka.connect.cli.ConnectStandalone",
                        worker.toString(),
                        connector.toString())
                .redirectErrorStream(true)
                .redirectOutput(OUT.resolve("connect-worker.log").toFile())
                .start();
        connectRest = URI.create("http://127.0.0.1:" + restPort + "/");
        sinkMetrics = URI.create("http://127.0.0.1:" + agentPort + "/metrics");

        // Prometheus on the shipped configuration, pointed at this test's processes.
        int promPort = freePort();
        Path promConfig = derivedConfig(Map.of(
                "embedseal",
                List.of(server.address().getAuthority()),
                "embedseal-sink",
                List.of("127.0.0.1:" + agentPort)));
        prometheus = new ProcessBuilder(
                        prometheusBinary.toString(),
                        "--config.file=" + promConfig,
                        "--storage.tsdb.path=" + dir.resolve("tsdb"),
                        "--web.listen-address=127.0.0.1:" + promPort)
                .redirectErrorStream(true)
                .redirectOutput(OUT.resolve("prometheus.log").toFile())
                .start();
        prometheusUrl = URI.create("http://127.0.0.1:" + promPort + "/");
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> { // should the test JVM end without @AfterAll
                            prometheus.destroyForcibly();
                            connect.destroyForcibly();
                        }));

        await("Prometheus ready", () -> status(prometheusUrl.resolve("-/ready")) == 200);
        await("the pipeline RUNNING", () -> pipeline.streams().state() == KafkaStreams.State.RUNNING);
        await("the sink connector and its task RUNNING", PrometheusScrapeTest::sinkRunning);
        await(
                "every target up",
                () -> targets().stream().allMatch(t -> t.path("health").asText().equals("up")));
        traffic();
    }

    /** The shipped Lucene connector configuration, with this test's broker, topics, directory and local KMS. */
    static Map<String, String> luceneConnector(String bootstrap) throws IOException {
        Map<String, String> c = new LinkedHashMap<>();
        JSON.readTree(PrometheusTools.ROOT
                        .resolve("deploy/connect/lucene-sink.json")
                        .toFile())
                .properties()
                .forEach(e -> c.put(e.getKey(), e.getValue().asText()));
        c.keySet().removeIf(k -> k.startsWith("kms.vault."));
        // This test's broker takes plain connections; the compose stack's login settings do not apply.
        c.keySet().removeIf(k -> k.startsWith("embedseal.client."));
        c.put("name", CONNECTOR);
        c.put("topics", prefix + "sealed");
        c.put("lucene.dir", dir.resolve("lucene").toString());
        c.put("embedseal.bootstrap.servers", bootstrap);
        c.put("embedseal.topics.key-events", prefix + "events");
        c.put("embedseal.topics.audit", prefix + "audit");
        c.put("kms.provider", "local");
        c.put(
                "kms.local.dir",
                io.embedseal.app.TestSigning.installInto(dir.resolve("kms")).toString());
        c.put("errors.deadletterqueue.topic.name", prefix + "sealed.lucene-dlq");
        return c;
    }

    /**
     * {@code dashboards/prometheus.yml} as shipped, except: each job's targets replaced by {@code targets} (every
     * shipped job must have some), short intervals, rule files resolved against {@code dashboards/}.
     */
    static Path derivedConfig(Map<String, List<String>> targets) throws IOException {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        ObjectNode config = (ObjectNode) yaml.readTree(
                PrometheusTools.DASHBOARDS.resolve("prometheus.yml").toFile());
        ObjectNode global = (ObjectNode) config.get("global");
        // 2 s: enough samples for the dashboard's shortest rate window ([1m]) within seconds, and time for a scrape of
        // the pipeline (1,900 lines) on a busy 2-core machine (the timeout may not exceed the interval).
        global.put("scrape_interval", "2s").put("scrape_timeout", "2s").put("evaluation_interval", "1s");
        ArrayNode rules = (ArrayNode) config.get("rule_files");
        assertThat(rules)
                .as("rule_files in dashboards/prometheus.yml")
                .isNotNull()
                .isNotEmpty();
        for (int i = 0; i < rules.size(); i++) {
            rules.set(
                    i, PrometheusTools.DASHBOARDS.resolve(rules.get(i).asText()).toString());
        }
        Set<String> jobs = new TreeSet<>();
        Path tokenFile = OUT.resolve("status-token");
        Files.writeString(tokenFile, STATUS_TOKEN + "\n");
        for (JsonNode job : config.get("scrape_configs")) {
            String name = job.get("job_name").asText();
            if (job.has("authorization")) {
                // The shipped file names the compose stack's token file; this test's server has its own token.
                ((ObjectNode) job.get("authorization")).put("credentials_file", tokenFile.toString());
            }
            jobs.add(name);
            assertThat(targets)
                    .as("this test runs a process for job " + name + " of dashboards/prometheus.yml")
                    .containsKey(name);
            for (JsonNode sc : job.get("static_configs")) {
                ArrayNode t = ((ObjectNode) sc).putArray("targets");
                targets.get(name).forEach(t::add);
            }
        }
        assertThat(jobs).isEqualTo(targets.keySet());
        Path out = OUT.resolve("prometheus.yml");
        yaml.writeValue(out.toFile(), config);
        return out;
    }

    /**
     * A small run that moves every metric the dashboard and the alerts use while Prometheus watches: three tenants
     * (one whose key the KMS refuses: a degraded tenant), records sealed, invalid records, a revocation. Prometheus
     * shows no rate for a series whose first sample already holds its increments, so each kind of event happens once
     * and Prometheus is seen to have its series before the bulk of the run.
     */
    static void traffic() throws Exception {
        try (LocalKms kms = new LocalKms(dir.resolve("kms"))) {
            KekRef acme = kms.createKek("tenant-acme");
            KekRef globex = kms.createKek("tenant-globex");
            KekRef hooli = kms.createKek("tenant-hooli");
            kms.disable("tenant-hooli"); // its KMS refuses it while it stays ACTIVE on keyring.events

            traffic.keyEvent("acme", KeyEventType.REGISTERED, acme);
            await("acme registered", () -> pipeline.directory().get("acme") != null);
            traffic.send("acme", 1);
            junk(1);
            await("1 sealed, 1 dead-lettered", () -> pipeline.meters().sealedTotal() == 1 && deadLettered() == 1);
            awaitSeries("embedseal_key_events_total{type=\"REGISTERED\"}");
            awaitSeries("embedseal_kms_calls_seconds_count{outcome=\"OK\"}");
            awaitSeries("embedseal_sealed_records_total{tenant=\"acme\"}");
            awaitSeries("embedseal_dlq_records_total{reason=\"WRONG_MAGIC_BYTE\"}");

            traffic.keyEvent("globex", KeyEventType.REGISTERED, globex);
            traffic.keyEvent("hooli", KeyEventType.REGISTERED, hooli);
            await(
                    "three tenants registered",
                    () -> pipeline.directory().snapshot().size() == 3);
            traffic.send("hooli", 1);
            await("hooli's first record refused", () -> deadLettered() == 2);
            awaitSeries("embedseal_dlq_records_total{reason=\"KEY_DENIED\",tenant=\"hooli\"}");
            awaitSeries("embedseal_kms_calls_seconds_count{outcome=\"DENIED\"}");

            traffic.send("acme", 30);
            traffic.send("globex", 20);
            traffic.send("hooli", 4);
            junk(2);
            await("51 sealed, 8 dead-lettered", () -> pipeline.meters().sealedTotal() == 51 && deadLettered() == 8);

            traffic.keyEvent("globex", KeyEventType.REVOKED, new KekRef("local", "tenant-globex", 1));
            await(
                    "globex revoked",
                    () -> pipeline.directory().get("globex").status().name().equals("REVOKED"));
            traffic.send("globex", 5);
            traffic.send("acme", 10);
            await("61 sealed, 13 dead-lettered", () -> pipeline.meters().sealedTotal() == 61 && deadLettered() == 13);
        }
        awaitSeries("sum(embedseal_sealed_records_total) == 61");
        awaitSeries("sum(embedseal_dlq_records_total) == 13");
        awaitSeries("sum(kafka_connect_sink_task_sink_record_read_total) >= 61");
    }

    /** Records that are not in the wire format (no magic byte 0): dead-lettered as WRONG_MAGIC_BYTE. */
    static void junk(int n) throws Exception {
        for (int i = 0; i < n; i++) {
            traffic.sendAsIs(prefix + "raw", "junk/" + (junkSent++), new byte[] {1, 2, 3, 4, 5, 6});
        }
    }

    static int junkSent;

    @AfterAll
    static void stop() throws Exception {
        // What each target served at the end, for whoever reads a failure or writes rules next.
        if (server != null) {
            Files.writeString(
                    OUT.resolve("pipeline-metrics.txt"), text(server.address().resolve("/metrics")));
        }
        if (prometheus != null && prometheus.isAlive()) {
            Files.writeString(OUT.resolve("rules.json"), text(prometheusUrl.resolve("api/v1/rules")));
        }
        if (connect != null && connect.isAlive()) {
            try {
                Files.writeString(OUT.resolve("sink-worker-metrics.txt"), text(sinkMetrics));
            } catch (IOException e) {
                Files.writeString(OUT.resolve("sink-worker-metrics.txt"), "not served: " + e);
            }
        }
        stopProcess(prometheus);
        stopProcess(connect);
        if (server != null) {
            server.close();
        }
        if (pipeline != null) {
            pipeline.close(Duration.ofSeconds(10));
        }
        if (traffic != null) {
            traffic.close();
        }
    }

    static void stopProcess(Process p) throws InterruptedException {
        if (p != null && p.isAlive()) {
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------- the checks

    @Test
    void everyTargetOfTheShippedJobs_isUp() throws Exception {
        // Awaited, bounded: one scrape that timed out on a loaded machine is not what this is about.
        await(
                "every target up",
                () -> targets().stream().allMatch(t -> t.path("health").asText().equals("up")));
        List<JsonNode> targets = targets();
        Map<String, String> health = new TreeMap<>();
        for (JsonNode t : targets) {
            health.put(
                    t.path("labels").path("job").asText() + " "
                            + t.path("scrapeUrl").asText(),
                    t.path("health").asText() + " " + t.path("lastError").asText());
        }
        assertThat(targets).as(health.toString()).hasSize(2);
        assertThat(targets)
                .allSatisfy(t -> assertThat(t.path("health").asText())
                        .as(health.toString())
                        .isEqualTo("up"));
        assertThat(targets)
                .extracting(t -> t.path("labels").path("job").asText())
                .containsExactlyInAnyOrder("embedseal", "embedseal-sink");
        assertThat(query("up")).hasSize(2).allSatisfy(s -> assertThat(value(s)).isEqualTo(1.0));
    }

    @Test
    void everyQueryOfTheGrafanaDashboard_returnsASeriesWithANumber() throws Exception {
        List<String> queries = dashboardQueries();
        assertThat(queries).hasSizeGreaterThanOrEqualTo(15);
        Map<String, List<JsonNode>> results = new LinkedHashMap<>();
        long deadline = System.nanoTime() + WAIT.toNanos();
        List<String> failing = new ArrayList<>(queries);
        while (!failing.isEmpty() && System.nanoTime() < deadline) {
            for (String q : List.copyOf(failing)) {
                List<JsonNode> r = query(q);
                results.put(q, r);
                if (r.stream().anyMatch(s -> Double.isFinite(value(s)))) {
                    failing.remove(q);
                }
            }
            if (!failing.isEmpty()) {
                Thread.sleep(500);
            }
        }
        StringBuilder report = new StringBuilder();
        results.forEach((q, r) -> {
            report.append(q).append('\n');
            r.forEach(s -> report.append("    ")
                    .append(s.get("metric"))
                    .append(" = ")
                    .append(s.get("value").get(1).asText())
                    .append('\n'));
        });
        Files.writeString(OUT.resolve("dashboard-queries.txt"), report);
        assertThat(failing)
                .as("dashboard queries without a series with a number after " + WAIT.toSeconds() + " s:\n" + report)
                .isEmpty();
    }

    @Test
    void aQueryOfAMetricNobodyExports_returnsNoSeries_soAnEmptyAnswerIsCaught() throws Exception {
        // The positive control of the check above: Prometheus answers an empty vector, not an error, for a name
        // that does not exist. An empty answer is what a dashboard query with a typo would get.
        assertThat(query("embedseal_no_such_metric")).isEmpty();
        assertThat(query("sum(rate(embedseal_no_such_metric_total[1m]))")).isEmpty();
        assertThat(query("embedseal_sealed_records_total")).isNotEmpty();
    }

    @Test
    void everyMetricTheAlertRulesName_isScraped() throws Exception {
        Set<String> names = metricNames(Files.readString(PrometheusTools.DASHBOARDS.resolve("alerts.yml")));
        assertThat(names).hasSizeGreaterThanOrEqualTo(8);
        Map<String, Integer> series = new TreeMap<>();
        for (String name : names) {
            series.put(name, query("count({__name__=\"" + name + "\"})").size());
        }
        assertThat(series)
                .as("series per metric name in dashboards/alerts.yml")
                .allSatisfy((name, n) -> assertThat(n).as(name).isEqualTo(1));
    }

    @Test
    void everyAlertRuleLoads_andEvaluatesWithoutError_andTheAlertsOfThisRunAreRaised() throws Exception {
        JsonNode groups = get(prometheusUrl.resolve("api/v1/rules")).get("data").get("groups");
        Map<String, JsonNode> rules = new TreeMap<>();
        for (JsonNode g : groups) {
            for (JsonNode r : g.get("rules")) {
                rules.put(r.get("name").asText(), r);
            }
        }
        Set<String> shipped = alertNames();
        assertThat(rules.keySet())
                .as("rules Prometheus loaded from dashboards/alerts.yml")
                .isEqualTo(shipped);
        await("every rule evaluated", () -> {
            for (JsonNode g :
                    get(prometheusUrl.resolve("api/v1/rules")).get("data").get("groups")) {
                for (JsonNode r : g.get("rules")) {
                    if (r.path("lastEvaluation").asText().startsWith("0001-")) {
                        return false;
                    }
                }
            }
            return true;
        });
        groups = get(prometheusUrl.resolve("api/v1/rules")).get("data").get("groups");
        for (JsonNode g : groups) {
            for (JsonNode r : g.get("rules")) {
                assertThat(r.get("health").asText())
                        .as(r.get("name").asText() + ": " + r.path("lastError").asText())
                        .isEqualTo("ok");
            }
        }
        // Provoked by this run: hooli's key is refused by its KMS; 3 of 74 records were not in the wire format.
        for (String raised : List.of("EmbedsealTenantDegraded", "EmbedsealDeadLetterRateHigh")) {
            await(raised + " pending or firing", () -> alertState(raised).matches("pending|firing"));
        }
        // Not provoked: a rule wrongly written against these metrics (say, a follower join that never matches) would
        // stay pending here. Awaited, bounded: a single scrape that timed out under load is pending only until the
        // next.
        for (String quiet : List.of(
                "EmbedsealTargetDown",
                "EmbedsealKeyEventFollowerDown",
                "EmbedsealKeyEventFollowerStalled",
                "EmbedsealSinkTaskNotRunning",
                "EmbedsealKmsErrors",
                "EmbedsealPipelineDegraded",
                "EmbedsealConsumerLagGrowing")) {
            await(quiet + " inactive", () -> alertState(quiet).equals("inactive"));
        }
    }

    @Test
    void bothJobsExportTheConsumerMetricsTheAlertsJoinOn_thePipelinesPerPartitionLagAfterMicrometersRefresh()
            throws Exception {
        // The rules name kafka_consumer_* without a job: each job must really export them, not just one of the two.
        // The pipeline's per-partition lag appears when Micrometer's Kafka binder next looks for new client metrics
        // (every minute), after the partitions were assigned: wait for it, bounded.
        for (String job : List.of("embedseal", "embedseal-sink")) {
            assertThat(query("kafka_consumer_last_poll_seconds_ago{job=\"" + job
                            + "\", client_id=~\".+-global-consumer|embedseal-key-events-.+\"}"))
                    .as(job + "'s key-event follower: seconds since its last poll")
                    .hasSize(1);
        }
        assertThat(
                        query(
                                "kafka_consumer_fetch_manager_records_lag{job=\"embedseal-sink\", client_id=~\"embedseal-key-events-.+\"}"))
                .as("the sink task's follower lag")
                .hasSize(1);
        long deadline = System.nanoTime() + Duration.ofSeconds(150).toNanos();
        String pipelineLag =
                "kafka_consumer_fetch_manager_records_lag{job=\"embedseal\", client_id=~\".+-global-consumer\"}";
        while (query(pipelineLag).isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(1000);
        }
        assertThat(query(pipelineLag))
                .as("the pipeline's key-event follower lag, " + pipelineLag)
                .hasSize(1);
        assertThat(query("max by (job, topic) (kafka_consumer_fetch_manager_records_lag)"))
                .extracting(s -> s.get("metric").get("job").asText() + " "
                        + s.get("metric").get("topic").asText())
                .contains(
                        "embedseal " + prefix + "raw",
                        "embedseal " + prefix + "events",
                        "embedseal-sink " + prefix + "sealed",
                        "embedseal-sink " + prefix + "events");
    }

    @Test
    void theJoinsOfTheFollowerAndSinkTaskAlerts_matchTheRealLabels() throws Exception {
        // "inactive" above would also be the answer of a join that matches nothing. Turned around, the same
        // expressions must find what is there: each pipeline instance's and each sink task's follower, the running
        // task.
        String followerDown = alertExpr("EmbedsealKeyEventFollowerDown");
        assertThat(followerDown).contains("unless on (instance)").contains("unless on (instance, connector, task)");
        List<JsonNode> followers = query(followerDown.replace("unless on", "and on"));
        assertThat(followers)
                .extracting(s -> s.get("metric").path("job").asText() + " "
                        + s.get("metric").path("task").asText())
                .containsExactlyInAnyOrder("embedseal ", "embedseal-sink 0");

        String notRunning = alertExpr("EmbedsealSinkTaskNotRunning");
        assertThat(notRunning).contains("status=~\"failed|unassigned\"");
        assertThat(query(notRunning.replace("status=~\"failed|unassigned\"", "status=\"running\"")))
                .extracting(s -> s.get("metric").path("connector_class").asText())
                .containsExactly("io.embedseal.sinks.lucene.LuceneSinkConnector");
    }

    // --------------------------------------------------------------------------------------------------- the helpers

    static String alertState(String name) {
        try {
            for (JsonNode g :
                    get(prometheusUrl.resolve("api/v1/rules")).get("data").get("groups")) {
                for (JsonNode r : g.get("rules")) {
                    if (r.get("name").asText().equals(name)) {
                        return r.path("state").asText();
                    }
                }
            }
        } catch (Exception e) {
            return "unknown: " + e;
        }
        throw new AssertionError("no rule named " + name);
    }

    static String alertExpr(String alert) throws IOException {
        JsonNode alerts = new ObjectMapper(new YAMLFactory())
                .readTree(PrometheusTools.DASHBOARDS.resolve("alerts.yml").toFile());
        for (JsonNode g : alerts.get("groups")) {
            for (JsonNode r : g.get("rules")) {
                if (r.path("alert").asText().equals(alert)) {
                    return r.get("expr").asText();
                }
            }
        }
        throw new AssertionError("no alert " + alert + " in dashboards/alerts.yml");
    }

    static Set<String> alertNames() throws IOException {
        JsonNode alerts = new ObjectMapper(new YAMLFactory())
                .readTree(PrometheusTools.DASHBOARDS.resolve("alerts.yml").toFile());
        Set<String> out = new TreeSet<>();
        for (JsonNode g : alerts.get("groups")) {
            for (JsonNode r : g.get("rules")) {
                out.add(
                        r.has("alert")
                                ? r.get("alert").asText()
                                : r.get("record").asText());
            }
        }
        return out;
    }

    /** Every {@code expr} of every panel of the Grafana dashboard. */
    static List<String> dashboardQueries() throws IOException {
        JsonNode d = JSON.readTree(
                PrometheusTools.DASHBOARDS.resolve("embedseal-dashboard.json").toFile());
        List<String> out = new ArrayList<>();
        for (JsonNode panel : d.get("panels")) {
            for (JsonNode t : panel.path("targets")) {
                if (t.has("expr")) {
                    out.add(t.get("expr").asText());
                }
            }
        }
        return out;
    }

    /** Metric names in PromQL text: identifiers before a selector or range, and {@code up}. */
    static Set<String> metricNames(String text) {
        Set<String> out = new TreeSet<>();
        Matcher m = Pattern.compile("\\b((?:embedseal|kafka)_[a-z0-9_]+|up)\\b(?=\\s*[{\\[)\\s=<>!*/+-]|$)")
                .matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    static List<JsonNode> targets() throws Exception {
        List<JsonNode> out = new ArrayList<>();
        get(prometheusUrl.resolve("api/v1/targets?state=active"))
                .get("data")
                .get("activeTargets")
                .forEach(out::add);
        return out;
    }

    /** An instant query's series; a scalar answer counts as one. */
    static List<JsonNode> query(String promql) throws Exception {
        JsonNode r =
                get(prometheusUrl.resolve("api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)));
        assertThat(r.path("status").asText()).as(promql + ": " + r).isEqualTo("success");
        JsonNode data = r.get("data");
        List<JsonNode> out = new ArrayList<>();
        if (data.get("resultType").asText().equals("scalar")) {
            out.add(JSON.createObjectNode().set("value", data.get("result")));
        } else {
            data.get("result").forEach(out::add);
        }
        return out;
    }

    static double value(JsonNode series) {
        return Double.parseDouble(series.get("value").get(1).asText());
    }

    static void awaitSeries(String promql) throws InterruptedException {
        await("Prometheus to answer " + promql, () -> !query(promql).isEmpty());
    }

    static JsonNode get(URI uri) throws Exception {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(r.body());
    }

    static String text(URI uri) throws Exception {
        return HTTP.send(
                        HttpRequest.newBuilder(uri)
                                .header("Authorization", "Bearer " + STATUS_TOKEN)
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
    }

    static int status(URI uri) {
        try {
            return HTTP.send(
                            HttpRequest.newBuilder(uri)
                                    .timeout(Duration.ofSeconds(5))
                                    .build(),
                            HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (Exception e) {
            return -1;
        }
    }

    static boolean sinkRunning() throws Exception {
        if (!connect.isAlive()) {
            throw new AssertionError("the Connect worker exited with " + connect.exitValue() + ": see "
                    + OUT.resolve("connect-worker.log"));
        }
        JsonNode s = get(connectRest.resolve("connectors/" + CONNECTOR + "/status"));
        if (s.path("tasks").toString().contains("FAILED")) {
            throw new AssertionError("the sink task failed: " + s);
        }
        return s.path("connector").path("state").asText().equals("RUNNING")
                && s.path("tasks").size() == 1
                && s.path("tasks").get(0).path("state").asText().equals("RUNNING");
    }

    static long deadLettered() {
        return pipeline.meters().deadLettersByReason().values().stream()
                .mapToLong(Long::longValue)
                .sum();
    }

    static void store(Path file, Map<String, String> settings) throws IOException {
        Properties p = new Properties();
        p.putAll(settings);
        try (var out = Files.newBufferedWriter(file)) {
            p.store(out, null);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** A condition to wait for; an exception other than an AssertionError counts as "not yet". */
    interface Condition {
        boolean holds() throws Exception;
    }

    static boolean holds(Condition c) {
        try {
            return c.holds();
        } catch (AssertionError e) {
            throw e;
        } catch (Exception e) {
            return false;
        }
    }

    static void await(String what, Condition done) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!holds(done)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(
                        "timed out after " + WAIT.toSeconds() + " s waiting for " + what + " (logs: " + OUT + ")");
            }
            Thread.sleep(200);
        }
    }
}
