package io.embedseal.app.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.app.TestPipelineConfig;
import io.embedseal.config.ConfigValueException;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status server against slow and hostile clients: connections that send part of a request and stall must not
 * keep the probes from answering (an orchestrator would restart a healthy pipeline), stalled requests are closed
 * after the request timeout, and with a token the page and metrics answer only those who present it.
 */
class StatusServerSlowClientTest {

    @TempDir
    static Path dir;

    static EmbedsealPipeline pipeline;
    static StatusServer server;

    @BeforeAll
    static void start() throws Exception {
        // Never started: /health/live answers from the Streams state (CREATED), nothing needs a broker.
        Path config = TestPipelineConfig.write(dir, "127.0.0.1:9", "slow-", "audit.enabled=false");
        pipeline = EmbedsealPipeline.create(PipelineConfig.load(config, name -> null));
        server = StatusServer.start(pipeline, "127.0.0.1", 0);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (pipeline != null) {
            pipeline.close(Duration.ofSeconds(5));
        }
    }

    /** Opens a connection, sends {@code partial} and leaves it there. */
    static Socket stall(String partial) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()), 2_000);
        OutputStream out = s.getOutputStream();
        out.write(partial.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return s;
    }

    /** A whole GET on a connection of its own; the status line, or what went wrong, within {@code timeout}. */
    static String get(String path, Duration timeout) {
        String whole = exchange(server, path, "", timeout);
        int eol = whole.indexOf("\r\n");
        return eol < 0 ? whole : whole.substring(0, eol);
    }

    /** A whole GET with {@code headers} (lines ending in CRLF); the whole answer, or what went wrong. */
    static String exchange(StatusServer to, String path, String headers, Duration timeout) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", to.address().getPort()), (int) timeout.toMillis());
            s.setSoTimeout((int) timeout.toMillis());
            s.getOutputStream()
                    .write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "Connection: close\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (SocketTimeoutException e) {
            return "no answer within " + timeout.toMillis() + " ms";
        } catch (IOException e) {
            return "failed: " + e;
        }
    }

    @Test
    void halfSentRequests_doNotStarveTheLivenessProbe() throws Exception {
        List<Socket> stalled = new ArrayList<>();
        try {
            // A request line without its end, headers without the blank line, and a bare connection.
            for (int i = 0; i < 4; i++) {
                stalled.add(stall("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
                stalled.add(stall("GET /status.js"));
                stalled.add(stall(""));
            }
            Thread.sleep(300); // let the server pick them up
            for (int i = 0; i < 3; i++) {
                long t0 = System.nanoTime();
                String status = get("/health/live", Duration.ofSeconds(2));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertThat(status)
                        .as("/health/live with " + stalled.size() + " half-sent requests open (" + ms + " ms)")
                        .startsWith("HTTP/1.1 200");
                assertThat(ms).isLessThan(1_000);
            }
            assertThat(get("/health/ready", Duration.ofSeconds(5))).startsWith("HTTP/1.1 ");
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
    }

    @Test
    void moreStalledConnectionsThanTheCap_stillLeaveRoomForTheProbes() throws Exception {
        List<Socket> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < 150; i++) { // http.max-connections is 64
                stalled.add(stall("GET / HTTP/1.1\r\n"));
            }
            Thread.sleep(300);
            assertThat(get("/health/live", Duration.ofSeconds(2))).startsWith("HTTP/1.1 200");
            assertThat(get("/health/ready", Duration.ofSeconds(5))).startsWith("HTTP/1.1 ");
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
    }

    @Test
    void aRequestThatDoesNotArriveInTime_isClosed() throws Exception {
        StatusServerSettings settings = StatusServerSettings.defaults().withRequestTimeout(Duration.ofMillis(500));
        try (StatusServer strict = StatusServer.start(pipeline, "127.0.0.1", 0, settings);
                Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", strict.address().getPort()), 2_000);
            s.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
            s.setSoTimeout(5_000);
            long t0 = System.nanoTime();
            int read;
            try {
                read = s.getInputStream().read();
            } catch (IOException reset) {
                read = -1;
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(read)
                    .as("the server closed the connection without an answer")
                    .isEqualTo(-1);
            assertThat(ms).isBetween(300L, 2_000L);
        }
    }

    @Test
    void malformedOrOversizedRequests_areRefused_andHeadHasNoBody() {
        assertThat(exchange(server, "/health/live", "X-Big: " + "a".repeat(9_000) + "\r\n", Duration.ofSeconds(5)))
                .startsWith("HTTP/1.1 431");
        assertThat(exchange(server, "/health/live", " folded\r\n", Duration.ofSeconds(5)))
                .startsWith("HTTP/1.1 400");
        assertThat(exchange(server, "/nope", "", Duration.ofSeconds(5))).startsWith("HTTP/1.1 404");
    }

    @Test
    void withAToken_thePageAndMetricsNeedIt_theProbesDoNot() throws Exception {
        String token = "0123456789abcdef0123456789abcdef";
        try (StatusServer guarded = StatusServer.start(
                pipeline, "127.0.0.1", 0, StatusServerSettings.defaults().withToken(token))) {
            Duration t = Duration.ofSeconds(5);
            for (String path : List.of("/", "/status.json", "/metrics")) {
                String none = exchange(guarded, path, "", t);
                assertThat(none).as(path).startsWith("HTTP/1.1 401").contains("WWW-Authenticate: Bearer");
                assertThat(exchange(guarded, path, "Authorization: Bearer wrong-token-wrong-token\r\n", t))
                        .startsWith("HTTP/1.1 401");
                assertThat(exchange(guarded, path, "Authorization: Bearer " + token + "x\r\n", t))
                        .startsWith("HTTP/1.1 401");
                assertThat(exchange(guarded, path, "Authorization: Bearer " + token + "\r\n", t))
                        .as(path)
                        .startsWith("HTTP/1.1 200");
                String basic = java.util.Base64.getEncoder()
                        .encodeToString(("ops:" + token).getBytes(StandardCharsets.US_ASCII));
                assertThat(exchange(guarded, path, "Authorization: Basic " + basic + "\r\n", t))
                        .as("a browser's Basic login with the token as the password")
                        .startsWith("HTTP/1.1 200");
                assertThat(exchange(
                                guarded, path, "Authorization: Bearer " + token + "\r\nAuthorization: Bearer x\r\n", t))
                        .startsWith("HTTP/1.1 400");
            }
            assertThat(exchange(guarded, "/health/live", "", t)).startsWith("HTTP/1.1 200");
            assertThat(exchange(guarded, "/health/ready", "", t))
                    .startsWith("HTTP/1.1 ")
                    .doesNotContain(" 401 ");
            assertThat(exchange(guarded, "/", "Authorization: Bearer " + token + "\r\n", t))
                    .contains("Content-Security-Policy: default-src 'none'");
        }
        // Without a token configured, everything is open (the default, for loopback).
        assertThat(exchange(server, "/metrics", "", Duration.ofSeconds(5))).startsWith("HTTP/1.1 200");
    }

    @Test
    void theTokenFile_isCheckedAtStart_andNeverQuoted(@TempDir Path tmp) throws Exception {
        Path shortOne = tmp.resolve("short");
        Files.writeString(shortOne, "s3cret\n");
        assertThatThrownBy(() ->
                        StatusServerSettings.from(Map.of("http.auth.token-file", shortOne.toString()), name -> null))
                .isInstanceOf(ConfigValueException.class)
                .hasMessageContaining("http.auth.token-file")
                .hasMessageNotContaining("s3cret");
        assertThatThrownBy(() -> StatusServerSettings.from(
                        Map.of("http.auth.token-file", tmp.resolve("missing").toString()), name -> null))
                .hasMessageContaining("http.auth.token-file");

        Path good = tmp.resolve("token");
        String token = "f00dfeedf00dfeedf00dfeedf00dfeed";
        Files.writeString(good, token + "\n");
        StatusServerSettings fromEnv = StatusServerSettings.from(
                Map.of(), name -> name.equals("EMBEDSEAL_HTTP_AUTH_TOKEN_FILE") ? good.toString() : null);
        assertThat(fromEnv.authenticated()).isTrue();
        assertThat(fromEnv.toString()).doesNotContain(token);
        try (StatusServer guarded = StatusServer.start(pipeline, "127.0.0.1", 0, fromEnv)) {
            assertThat(exchange(guarded, "/metrics", "Authorization: Bearer " + token + "\r\n", Duration.ofSeconds(5)))
                    .startsWith("HTTP/1.1 200");
        }
        assertThat(StatusServerSettings.from(Map.of(), name -> null).authenticated())
                .isFalse();
    }
}
