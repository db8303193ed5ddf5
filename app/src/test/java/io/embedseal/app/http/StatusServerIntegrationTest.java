package io.embedseal.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.app.TestPipelineConfig;
import io.embedseal.app.TestTraffic;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.io.File;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The pipeline's HTTP side on a running pipeline with tenants in every state: health, metrics, the status page in a
 * real headless Chromium (Debian's, driven by Selenium through its chromedriver), and the Grafana dashboard's
 * queries against what {@code /metrics} exports.
 */
class StatusServerIntegrationTest {

    @TempDir
    static Path dir;

    static String prefix;
    static EmbedsealPipeline pipeline;
    static StatusServer server;
    static TestTraffic traffic;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        prefix = "http-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        Path config = TestPipelineConfig.write(
                dir, EmbeddedKafkaBroker.shared().bootstrapServers(), prefix, "streams.commit.interval.ms=100");
        pipeline = EmbedsealPipeline.create(PipelineConfig.load(config, name -> null));
        pipeline.createTopicsIfConfigured();
        traffic =
                new TestTraffic(EmbeddedKafkaBroker.shared().bootstrapServers(), prefix, List.of(0.5f, 1.5f, -2f, 4f));
        try (LocalKms kms = new LocalKms(dir.resolve("kms"))) {
            for (String t : List.of("acme", "globex", "initech", "umbrella")) {
                KekRef k = kms.createKek("tenant-" + t);
                traffic.keyEvent(t, KeyEventType.REGISTERED, k);
            }
            pipeline.start();
            server = StatusServer.start(pipeline, "127.0.0.1", 0);
            await(
                    "the pipeline RUNNING",
                    () -> pipeline.streams().state() == KafkaStreams.State.RUNNING
                            && pipeline.directory().snapshot().size() == 4);
            for (String t : List.of("acme", "globex", "initech", "umbrella")) {
                traffic.send(t, 25);
            }
            await("100 records sealed", () -> pipeline.meters().sealedTotal() == 100);
            traffic.keyEvent("globex", KeyEventType.REVOKED, new KekRef("local", "tenant-globex", 1));
            kms.destroy("tenant-initech");
            traffic.keyEvent("initech", KeyEventType.DESTROYED, new KekRef("local", "tenant-initech", 1));
            kms.rotate("tenant-umbrella");
            traffic.keyEvent("umbrella", KeyEventType.ROTATED, new KekRef("local", "tenant-umbrella", 2));
            await(
                    "the pipeline to apply the key events",
                    () -> pipeline.directory().get("initech").status().name().equals("DESTROYED")
                            && pipeline.directory()
                                    .get("globex")
                                    .status()
                                    .name()
                                    .equals("REVOKED")
                            && pipeline.directory().get("umbrella").kekVersion() == 2);
            traffic.send("globex", 7);
            traffic.send("initech", 3);
            traffic.send("umbrella", 5);
            await(
                    "the refused records dead-lettered",
                    () -> pipeline.meters().deadLettersByReason().values().stream()
                                            .mapToLong(Long::longValue)
                                            .sum()
                                    == 10
                            && pipeline.meters().sealedTotal() == 105);
        }
    }

    @AfterAll
    static void stop() {
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

    static void await(String what, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    static HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(server.address().resolve(path))
                        .timeout(Duration.ofSeconds(10))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void health_metrics_andStatusJson() throws Exception {
        assertThat(get("/health/live").statusCode()).isEqualTo(200);
        HttpResponse<String> ready = get("/health/ready");
        assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
        assertThat(ready.body()).contains("\"streams\":\"RUNNING\"").contains("\"kms\":\"answers\"");

        HttpResponse<String> metrics = get("/metrics");
        Files.writeString(
                Path.of("target", "metrics-sample.txt"), metrics.body()); // what an operator's Prometheus sees
        assertThat(metrics.headers().firstValue("Content-Type"))
                .hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
        assertThat(metrics.body())
                .contains("embedseal_sealed_records_total{tenant=\"acme\"} 25.0")
                .contains("embedseal_dlq_records_total{reason=\"TENANT_REVOKED\",tenant=\"globex\"} 7.0")
                .contains("embedseal_tenants{state=\"DESTROYED\"} 1.0")
                .contains("embedseal_dek_cache_misses_total{cache=\"seal\"}")
                .contains("embedseal_key_event_propagation_seconds_bucket{type=\"REVOKED\"");

        JsonNode status = new ObjectMapper().readTree(get("/status.json").body());
        assertThat(status.get("streamsState").asText()).isEqualTo("RUNNING");
        assertThat(status.get("tenantsByState").get("ACTIVE").asInt()).isEqualTo(2);
        assertThat(status.get("deadLettersByReason").get("TENANT_DESTROYED").asInt())
                .isEqualTo(3);
        assertThat(status.get("tenants")).hasSize(4);
        assertThat(status.toString()).doesNotContain("tenant-acme", "tenant-umbrella");

        assertThat(get("/nope").statusCode()).isEqualTo(404);
        HttpResponse<String> post = HTTP.send(
                HttpRequest.newBuilder(server.address().resolve("/metrics"))
                        .POST(HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
    }

    @Test
    void everyMetricTheGrafanaDashboardQueries_isExported() throws Exception {
        Path dashboard =
                Path.of(System.getProperty("embedseal.root", "..")).resolve("dashboards/embedseal-dashboard.json");
        JsonNode d = new ObjectMapper().readTree(dashboard.toFile());
        Set<String> queried = new LinkedHashSet<>();
        Matcher m = Pattern.compile("\\b((?:embedseal|kafka)_[a-z0-9_]+)\\b").matcher(d.toString());
        while (m.find()) {
            // Left to PrometheusScrapeTest, which scrapes them with a real Prometheus: the sink worker's
            // kafka_connect_*,
            // and the per-partition lag, which Micrometer's Kafka binder adds a minute after start (its refresh).
            if (!m.group(1).startsWith("kafka_connect_")
                    && !m.group(1).equals("kafka_consumer_fetch_manager_records_lag")) {
                queried.add(m.group(1));
            }
        }
        assertThat(queried).as("metric names in " + dashboard).hasSizeGreaterThan(8);
        String scrape = get("/metrics").body();
        for (String name : queried) {
            assertThat(Pattern.compile("(?m)^" + name + "[{ ]").matcher(scrape).find())
                    .as("the dashboard queries " + name + "; /metrics must export it")
                    .isTrue();
        }
        Path prometheus = dashboard.resolveSibling("prometheus.yml");
        assertThat(Files.readString(prometheus))
                .contains("metrics_path: /metrics")
                .contains("job_name: embedseal");
    }

    @Test
    void statusPage_inHeadlessChromium_showsEveryTenantsState_andRefreshesItself() throws Exception {
        Path chromium = Path.of("/usr/bin/chromium");
        Path driverBinary = Path.of("/usr/bin/chromedriver");
        if (!Files.isExecutable(chromium) || !Files.isExecutable(driverBinary)) {
            String why =
                    "needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver); .ci/run installs them";
            if ("1".equals(System.getenv("EMBEDSEAL_REQUIRE_CHROMIUM"))) {
                Assertions.fail(why);
            }
            Assumptions.abort(why);
        }
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium.toFile());
        options.addArguments(
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,1000",
                "--user-data-dir=" + Files.createTempDirectory(dir, "chromium"));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(driverBinary.toFile())
                .usingAnyFreePort()
                .build();
        WebDriver browser = new ChromeDriver(service, options);
        try {
            browser.get(server.address().toString());
            assertThat(browser.getTitle()).contains(prefix + "app");
            assertThat(state(browser, "acme")).isEqualTo("ACTIVE");
            assertThat(state(browser, "globex")).isEqualTo("REVOKED");
            assertThat(state(browser, "initech")).isEqualTo("DESTROYED");
            // The key's version, never its name (the CLI's `tenants list` shows names).
            assertThat(row(browser, "umbrella").getText()).contains("local v2").doesNotContain("tenant-umbrella");
            assertThat(row(browser, "globex").getText()).contains("TENANT_REVOKED 7");
            assertThat(browser.findElement(By.id("streams-state")).getText()).contains("RUNNING");
            assertThat(browser.findElement(By.id("kms")).getText()).contains("answers");
            assertThat(browser.findElement(By.id("dlq")).getText())
                    .contains("TENANT_DESTROYED")
                    .contains("TENANT_REVOKED");
            assertThat(browser.findElement(By.id("sealed-total")).getText()).contains("105");

            // The page reloads itself: new records show without anyone pressing reload.
            traffic.send("acme", 5);
            await("the page to refresh with acme's new records", () -> {
                try {
                    return row(browser, "acme")
                            .findElements(By.tagName("td"))
                            .get(4)
                            .getText()
                            .equals("30");
                } catch (RuntimeException stale) {
                    return false; // the page was reloading
                }
            });

            File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
            Path target = Path.of("target", "status-page.png");
            Files.copy(shot.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
            assertThat(Files.size(target)).isGreaterThan(10_000);
        } finally {
            browser.quit();
        }
    }

    static WebElement row(WebDriver browser, String tenant) {
        return browser.findElement(By.cssSelector("tr[data-tenant='" + tenant + "']"));
    }

    static String state(WebDriver browser, String tenant) {
        return row(browser, tenant).findElement(By.cssSelector(".state")).getText();
    }
}
