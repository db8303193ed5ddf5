package io.embedseal.serdes.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Answers a healthy registry rarely gives (422, 401, 5xx, nothing at all), from a scripted HTTP server. */
class ConfluentSchemaRegistryClientTest {

    private HttpServer server;
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicReference<String> authorization = new AtomicReference<>();
    private volatile int status = 200;
    private volatile String body = "{}";

    @BeforeEach
    void start() throws IOException {
        System.setProperty("sun.net.httpserver.nodelay", "true");
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            requests.incrementAndGet();
            authorization.set(ex.getRequestHeaders().getFirst("Authorization"));
            ex.getRequestBody().readAllBytes();
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private ConfluentSchemaRegistryClient client(Map<String, String> extra) {
        Map<String, Object> config = new java.util.HashMap<>(Map.of("schema.registry.url", url()));
        config.putAll(extra);
        return new ConfluentSchemaRegistryClient(
                ConfluentSchemaRegistryClient.Settings.from(config, n -> n.equals("SR_AUTH") ? "alice:s3cret" : null));
    }

    private void answer(int status, String body) {
        this.status = status;
        this.body = body;
    }

    @Test
    void invalidSchema_is422() {
        answer(422, "{\"error_code\":42201,\"message\":\"Invalid schema\"}");

        assertThatThrownBy(() -> client(Map.of()).register("s", EmbeddingEventCodec.CANONICAL_SCHEMA))
                .isInstanceOf(InvalidSchemaException.class)
                .hasMessageContaining("422")
                .hasMessageContaining("42201");
    }

    @Test
    void notAuthorized_saysToCheckTheCredentials_withoutShowingThem() {
        answer(401, "{\"error_code\":40101,\"message\":\"Unauthorized\"}");

        assertThatThrownBy(() -> client(Map.of("schema.registry.basic-auth.user-info-env", "SR_AUTH"))
                        .schemaById(1))
                .isInstanceOf(SchemaRegistryException.class)
                .hasMessageContaining("basic-auth")
                .hasMessageNotContaining("s3cret");
        assertThat(authorization.get())
                .isEqualTo(
                        "Basic " + Base64.getEncoder().encodeToString("alice:s3cret".getBytes(StandardCharsets.UTF_8)));
        assertThat(client(Map.of("schema.registry.basic-auth.user-info-env", "SR_AUTH"))
                        .toString())
                .doesNotContain("s3cret");
    }

    @Test
    void serverError_isUnavailable() {
        answer(503, "{\"error_code\":50003,\"message\":\"Error while forwarding the request to the primary\"}");

        assertThatThrownBy(() -> client(Map.of()).schemaById(1))
                .isInstanceOf(SchemaRegistryUnavailableException.class)
                .hasMessageContaining("503");
    }

    @Test
    void unreachable_isUnavailable_andTheNextUrlIsTried() throws IOException {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        answer(200, "{\"schema\":" + quoted(EmbeddingEventCodec.CANONICAL_SCHEMA.toString()) + "}");

        ConfluentSchemaRegistryClient failover =
                new ConfluentSchemaRegistryClient(ConfluentSchemaRegistryClient.Settings.from(
                        Map.of("schema.registry.url", "http://127.0.0.1:" + closed + "," + url()), n -> null));
        assertThat(failover.schemaById(7)).isEqualTo(EmbeddingEventCodec.CANONICAL_SCHEMA);

        ConfluentSchemaRegistryClient deadOnly =
                new ConfluentSchemaRegistryClient(ConfluentSchemaRegistryClient.Settings.from(
                        Map.of("schema.registry.url", "http://127.0.0.1:" + closed), n -> null));
        assertThatThrownBy(() -> deadOnly.schemaById(7))
                .isInstanceOf(SchemaRegistryUnavailableException.class)
                .hasMessageContaining("unreachable");
    }

    @Test
    void schemasAreCached_andUnknownIdsRememberedForAWhile() {
        ConfluentSchemaRegistryClient c = client(Map.of());
        answer(200, "{\"schema\":" + quoted(EmbeddingEventCodec.CANONICAL_SCHEMA.toString()) + "}");
        c.schemaById(1);
        c.schemaById(1);
        assertThat(requests.get()).isEqualTo(1);

        answer(404, "{\"error_code\":40403,\"message\":\"Schema not found\"}");
        for (int i = 0; i < 100; i++) {
            assertThatThrownBy(() -> c.schemaById(2)).isInstanceOf(UnknownSchemaException.class);
        }
        assertThat(requests.get())
                .as("one request for the unknown id, then the negative cache")
                .isEqualTo(2);
    }

    @Test
    void settings_nameWhatIsWrong() {
        assertThatThrownBy(() -> ConfluentSchemaRegistryClient.Settings.from(Map.of(), n -> null))
                .hasMessageContaining("schema.registry.url is required");
        assertThatThrownBy(() -> ConfluentSchemaRegistryClient.Settings.from(
                        Map.of("schema.registry.url", "localhost:8081"), n -> null))
                .hasMessageContaining("http://");
        assertThatThrownBy(() -> ConfluentSchemaRegistryClient.Settings.from(
                        Map.of("schema.registry.url", url(), "schema.registry.timeout-ms", "soon"), n -> null))
                .hasMessageContaining("schema.registry.timeout-ms");
        assertThat(SubjectNameStrategy.parse("io.confluent.kafka.serializers.subject.RecordNameStrategy"))
                .isEqualTo(SubjectNameStrategy.RECORD_NAME);
        assertThat(SubjectNameStrategy.TOPIC_RECORD_NAME.subject("raw", false, EmbeddingEventCodec.CANONICAL_SCHEMA))
                .isEqualTo("raw-io.embedseal.schemas.EmbeddingEvent");
        assertThatThrownBy(() -> SubjectNameStrategy.parse("bogus"))
                .hasMessageContaining("value.subject.name.strategy");
        assertThat(List.of(SchemaRegistries.fromConfig(Map.of("schema.registry.url", "mock://x"))))
                .first()
                .isSameAs(SchemaRegistries.inMemory("x"));
    }

    private static String quoted(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
