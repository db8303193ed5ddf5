package io.embedseal.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.VaultFaultInjector;
import io.embedseal.openbao.dev.OpenBaoDevServer;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /health/ready} follows the KMS: a sealed Vault makes the pipeline not ready, unsealing it makes it ready again. */
class ReadinessTest {

    @TempDir
    Path dir;

    @Test
    void readiness_followsTheKms_whileLivenessStaysUp() throws Exception {
        String prefix = "ready-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        // A server of its own, to seal; a proxy in front of it counts the requests readiness probes cause.
        try (OpenBaoDevServer bao = OpenBao.startOwn(false);
                VaultFaultInjector vault = VaultFaultInjector.inFrontOf(bao)) {
            OpenBao.Namespace ns = OpenBao.root(bao);
            String pipelineToken = ns.token("embedseal-pipeline");
            Map<String, String> s = new java.util.HashMap<>(Map.of(
                    "bootstrap.servers",
                    EmbeddedKafkaBroker.shared().bootstrapServers(),
                    "application.id",
                    prefix + "app",
                    "state.dir",
                    dir.resolve("state").toString(),
                    "topics.create",
                    "true",
                    "topics.partitions",
                    "1",
                    "schema.registry.url",
                    "mock://" + prefix,
                    "kms.provider",
                    "vault",
                    "kms.vault.address",
                    vault.address(),
                    "kms.vault.token-env",
                    "TOKEN"));
            s.put("kms.vault.allow-insecure-http", "true");
            s.put(
                    "kms.events.trusted-signers",
                    io.embedseal.control.KeyEventSignatures.encode(
                            io.embedseal.app.TestSigning.OPERATOR.signer().publicKey()));
            s.put("topics.raw", prefix + "raw");
            s.put("topics.sealed", prefix + "sealed");
            s.put("topics.dlq", prefix + "dlq");
            s.put("topics.key-events", prefix + "events");
            s.put("topics.audit", prefix + "audit");
            PipelineConfig config = PipelineConfig.of(s, name -> name.equals("TOKEN") ? pipelineToken : null);
            try (EmbedsealPipeline pipeline = EmbedsealPipeline.create(config)) {
                pipeline.createTopicsIfConfigured();
                pipeline.start();
                try (StatusServer server = StatusServer.start(pipeline, "127.0.0.1", 0)) {
                    HttpClient http = HttpClient.newHttpClient();
                    awaitStatus(http, server, "/health/ready", 200);
                    int before = vault.requestCount();
                    for (int i = 0; i < 5; i++) {
                        assertThat(get(http, server, "/health/ready").statusCode())
                                .isEqualTo(200);
                    }
                    assertThat(vault.requestCount() - before)
                            .as("probes within 5 s are answered from the last check")
                            .isLessThanOrEqualTo(1);

                    bao.seal();
                    HttpResponse<String> down = awaitStatus(http, server, "/health/ready", 503);
                    assertThat(down.body()).contains("\"kms\":\"unreachable\"").contains("\"status\":\"DOWN\"");
                    assertThat(get(http, server, "/health/live").statusCode()).isEqualTo(200);
                    assertThat(pipeline.streams().state()).isEqualTo(KafkaStreams.State.RUNNING);

                    bao.unseal();
                    awaitStatus(http, server, "/health/ready", 200);
                }
            }
        }
    }

    static HttpResponse<String> get(HttpClient http, StatusServer server, String path) throws Exception {
        return http.send(
                HttpRequest.newBuilder(server.address().resolve(path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> awaitStatus(HttpClient http, StatusServer server, String path, int status)
            throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        HttpResponse<String> r = get(http, server, path);
        while (r.statusCode() != status) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(path + " stayed " + r.statusCode() + ": " + r.body());
            }
            Thread.sleep(200);
            r = get(http, server, path);
        }
        return r;
    }
}
