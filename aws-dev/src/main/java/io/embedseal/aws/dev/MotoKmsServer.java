package io.embedseal.aws.dev;

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
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * <b>Development only.</b> moto's AWS KMS API server (<a href="https://github.com/getmoto/moto">getmoto/moto</a>):
 * in memory, any credentials accepted, gone when stopped. Used by {@code embedseal demo --kms aws} when no endpoint is
 * given, and by the tests, which run the AWS KMS provider against it. Never use it for data you keep.
 *
 * <p>moto answers KMS's real wire protocol but does not enforce every rule AWS documents (a disabled key still
 * decrypts there, for one). The server runs through {@code moto_kms.py}, which adds those rules before serving and
 * cites AWS's documentation for each; docs/key-management.md lists them.
 *
 * <p>Python with moto is looked for in {@value #PYTHON_ENV}, then in a {@code .venv/bin/python} of the working directory
 * or one of its parents (where {@code .ci/run} installs {@code .ci/moto-requirements.txt}). The server listens on a free
 * loopback port and dies with its parent: its shell kills it when the parent's pipe closes.
 */
public final class MotoKmsServer implements AutoCloseable {

    /** An explicit path to a Python interpreter that has moto installed. */
    public static final String PYTHON_ENV = "EMBEDSEAL_MOTO_PYTHON";

    /** The moto version the project tests against (pinned in .ci/moto-requirements.txt), for messages and docs. */
    public static final String TESTED_VERSION = "5.2.6";

    /** The region the server is asked in; moto serves any. */
    public static final String REGION = "eu-west-1";

    /** What to tell a user who has no moto. */
    public static final String INSTALL_HINT = "install moto's KMS server into the project's virtualenv: python3 -m venv"
            + " .venv && .venv/bin/pip install --require-hashes -r .ci/moto-requirements.txt (in the project"
            + " directory), or set " + PYTHON_ENV + " to a Python that has moto[server]==" + TESTED_VERSION;

    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final Process process;
    private final Thread stopAtExit;
    private final String endpoint;
    private final Path logFile;

    private MotoKmsServer(Path python, Path dir, java.util.Map<String, String> env) throws IOException {
        Files.createDirectories(dir);
        int port = freePort();
        Path script = dir.resolve("moto_kms.py");
        try (InputStream in = MotoKmsServer.class.getResourceAsStream("moto_kms.py")) {
            if (in == null) {
                throw new IOException("moto_kms.py is missing from the embedseal-aws-dev jar");
            }
            Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
        }
        this.logFile = dir.resolve("moto.log");
        ProcessBuilder pb = new ProcessBuilder(List.of(
                        "sh",
                        "-c",
                        // As for the OpenBao dev server: the shell lives as long as the server, and a watcher reading
                        // the shell's stdin kills it when this JVM closes the pipe or dies.
                        "exec 3<&0; \"$0\" \"$@\" </dev/null & p=$!;"
                                + " (cat <&3 >/dev/null 2>&1; kill $p 2>/dev/null) & exec 3<&-; wait $p",
                        python.toString(),
                        script.toString(),
                        "-H",
                        "127.0.0.1",
                        "-p",
                        Integer.toString(port)))
                .redirectErrorStream(true);
        // Nothing of the caller's AWS settings may reach the server.
        pb.environment().keySet().removeIf(k -> k.startsWith("AWS_") || k.startsWith("MOTO_"));
        pb.environment().put("HOME", dir.toString());
        pb.environment().putAll(env);
        this.process = pb.start();
        this.stopAtExit = new Thread(this::close, "moto-kms-stop");
        Runtime.getRuntime().addShutdownHook(stopAtExit);
        Thread pump = new Thread(() -> pump(process.getInputStream()), "moto-kms-log");
        pump.setDaemon(true);
        pump.start();
        this.endpoint = "http://127.0.0.1:" + port;
        try {
            awaitReady();
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting moto", e);
        }
    }

    /**
     * Starts a server.
     *
     * @param python a Python with moto, e.g. from {@link #findPython()}
     * @param dir    a directory for the server's log and launcher
     */
    public static MotoKmsServer start(Path python, Path dir) {
        return start(python, dir, java.util.Map.of());
    }

    /**
     * Starts a server with moto settings in its environment: {@code INITIAL_NO_AUTH_ACTION_COUNT=<n>} makes it check
     * IAM policies after its first {@code n} requests (the actions of identity policies, not their resources or
     * conditions), which is how a test sets up users and then runs as them.
     */
    public static MotoKmsServer start(Path python, Path dir, java.util.Map<String, String> env) {
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) { // a free port can be taken between choosing and binding
            try {
                return new MotoKmsServer(python, dir, env);
            } catch (IOException e) {
                last = e;
            }
        }
        throw new UncheckedIOException("cannot start moto's KMS server (" + python + ")", last);
    }

    /** A Python that can import moto: {@value #PYTHON_ENV}, or a {@code .venv/bin/python} here or in a parent. */
    public static Optional<Path> findPython() {
        String explicit = System.getenv(PYTHON_ENV);
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path venv = dir.resolve(".venv/bin/python");
            if (Files.isExecutable(venv) && hasMoto(venv)) {
                return Optional.of(venv);
            }
        }
        return Optional.empty();
    }

    private static boolean hasMoto(Path python) {
        try {
            Process p = new ProcessBuilder(python.toString(), "-c", "import moto.server, moto.kms")
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** {@code http://127.0.0.1:<port>}, for {@code kms.aws.endpoint}. */
    public String endpoint() {
        return endpoint;
    }

    /** Where the server's output goes. */
    public Path logFile() {
        return logFile;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Stops the server (and waits for it). Safe to call twice. */
    @Override
    public void close() {
        List<ProcessHandle> running = process.descendants().toList();
        running.forEach(ProcessHandle::destroy);
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            // already closed
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                running.forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            running.forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(stopAtExit);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: this is the hook
        }
    }

    @Override
    public String toString() {
        return "MotoKmsServer[" + endpoint + ", development only, in memory]";
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        HttpClient probe = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2))
                .build();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("moto exited with " + process.exitValue() + " at start; see " + logFile);
            }
            try {
                // moto's own endpoint listing the backends it has loaded; any answer means it serves.
                HttpResponse<Void> r = probe.send(
                        HttpRequest.newBuilder(URI.create(endpoint + "/moto-api/data.json"))
                                .timeout(Duration.ofSeconds(2))
                                .build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(100);
        }
        throw new IOException(
                "moto did not answer at " + endpoint + " within " + START_TIMEOUT + "; see " + logFile, last);
    }

    private void pump(InputStream in) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
                Writer log = Files.newBufferedWriter(logFile, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                log.write(line);
                log.write('\n');
                log.flush();
            }
        } catch (IOException e) {
            // the process ended; nothing more to log
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
