package io.embedseal.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * <b>Test code.</b> Real pgvector on machines without Docker: PGlite (PostgreSQL 17 compiled to WebAssembly) with its
 * pgvector build (0.8.x), served over the PostgreSQL wire protocol by {@code @electric-sql/pglite-socket}, one server
 * per test JVM, started on first use and stopped at exit. The npm packages are pinned in {@code testkit/pglite}
 * ({@code npm ci --prefix testkit/pglite}, which {@code .ci/run} does); Node.js comes from the machine
 * ({@code EMBEDSEAL_NODE} overrides {@code node} on the PATH).
 *
 * <p>Its limits, which the tests respect: one backend session executes every statement. Connections (up to
 * {@code --max-connections}, {@value #MAX_CONNECTIONS} here) are served in turn, and while one has a transaction open
 * the others wait, so there is no concurrency to test; session state (prepared statements, {@code SET}) is shared,
 * hence {@code prepareThreshold=0} in {@link #url()} and {@code SET LOCAL} in transactions. The data live in a directory of their own ({@link #dataDirectory()}, which the leak tests scan)
 * and go when the JVM exits; user and password are not checked (there is one user, {@code postgres}).
 *
 * <p>Without it the calling test is skipped with a message saying what to install, unless {@value #REQUIRE_ENV}{@code
 * =1} (as CI sets it), which makes it a failure. Needs the PostgreSQL JDBC driver on the caller's class path.
 */
public final class PgliteServer {

    /** Set to 1 (CI does) to fail, not skip, the tests that need PGlite when it is missing. */
    public static final String REQUIRE_ENV = "EMBEDSEAL_REQUIRE_PGLITE";

    public static final String USER = "postgres";
    public static final String PASSWORD = "postgres";
    static final int MAX_CONNECTIONS = 16;
    static final String SERVER_SCRIPT = "node_modules/@electric-sql/pglite-socket/dist/scripts/server.js";
    static final String INSTALL_HINT = "run npm ci --prefix testkit/pglite (Node.js 18+; .ci/run does)";

    private static @Nullable PgliteServer shared;
    private static @Nullable String unavailable;

    private final Process process;
    private final int port;
    private final Path data;
    private final StringBuffer log = new StringBuffer();

    private PgliteServer(Process process, int port, Path data) {
        this.process = process;
        this.port = port;
        this.data = data;
    }

    /** Whether a test must fail, not skip, when PGlite is unavailable. */
    public static boolean required() {
        return "1".equals(System.getenv(REQUIRE_ENV));
    }

    /**
     * The test JVM's server, started on first use.
     *
     * @return empty, with {@link #unavailableBecause()} saying why, when it cannot be started here
     */
    public static synchronized Optional<PgliteServer> shared() {
        if (shared != null && shared.process.isAlive()) {
            return Optional.of(shared);
        }
        if (unavailable != null) {
            return Optional.empty();
        }
        Optional<Path> home = findPackageDir();
        if (home.isEmpty()) {
            unavailable = "needs PGlite with pgvector (real pgvector over the PostgreSQL wire protocol): no "
                    + "testkit/pglite/" + SERVER_SCRIPT + " above "
                    + Path.of("").toAbsolutePath() + "; " + INSTALL_HINT;
            return Optional.empty();
        }
        try {
            shared = start(home.get());
            return Optional.of(shared);
        } catch (RuntimeException e) {
            unavailable = "needs PGlite with pgvector; starting it from " + home.get() + " failed: " + e.getMessage();
            return Optional.empty();
        }
    }

    /** Why the server cannot be had here, once {@link #shared()} failed. */
    public static synchronized Optional<String> unavailableBecause() {
        return Optional.ofNullable(unavailable);
    }

    /** {@code testkit/pglite} with its packages installed, looked for from the working directory up. */
    static Optional<Path> findPackageDir() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path home = dir.resolve("testkit/pglite");
            if (Files.isRegularFile(home.resolve(SERVER_SCRIPT))) {
                return Optional.of(home);
            }
        }
        return Optional.empty();
    }

    private static PgliteServer start(Path home) {
        String node = System.getenv("EMBEDSEAL_NODE");
        if (node == null || node.isBlank()) {
            node = "node";
        }
        Path data;
        try {
            data = Files.createTempDirectory("embedseal-pglite-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int port = freePort();
        List<String> command = new ArrayList<>(List.of(
                "/bin/sh",
                "-c",
                // The shell lives as long as node; a watcher reading the shell's stdin (the JVM's pipe) kills node when
                // the JVM dies, however it dies.
                "exec 3<&0; \"$0\" \"$@\" </dev/null & p=$!;"
                        + " (cat <&3 >/dev/null 2>&1; kill $p 2>/dev/null) & exec 3<&-; wait $p",
                node,
                home.resolve(SERVER_SCRIPT).toString(),
                "--port=" + port,
                "--host=127.0.0.1",
                "--db=" + data.resolve("pgdata"),
                "--extensions=@electric-sql/pglite-pgvector:vector",
                "--max-connections=" + MAX_CONNECTIONS));
        Process p;
        try {
            p = new ProcessBuilder(command)
                    .directory(home.toFile())
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + node + " (Node.js): " + e.getMessage(), e);
        }
        PgliteServer server = new PgliteServer(p, port, data);
        Thread pump = new Thread(() -> server.pump(p.getInputStream()), "pglite-log");
        pump.setDaemon(true);
        pump.start();
        Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "pglite-stop"));
        long deadline = System.nanoTime() + 90_000_000_000L;
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException("the server exited (" + p.exitValue() + "): " + server.log());
            }
            if (server.log().contains("listening")) {
                try (Connection c = server.connect()) {
                    if (c.isValid(10)) {
                        return server;
                    }
                } catch (SQLException e) {
                    last = e;
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        server.stop();
        throw new IllegalStateException("no answer on port " + port + " within 90 s"
                + (last == null ? "" : " (" + last.getMessage() + ")") + ": " + server.log());
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void pump(InputStream in) {
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) > 0; ) {
                if (log.length() < 64 * 1024) {
                    log.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                }
            }
        } catch (IOException ignored) {
            // the server is gone
        }
    }

    /** What the server printed (its first 64 KiB). */
    public String log() {
        return log.toString();
    }

    /**
     * The JDBC URL of its one database. {@code prepareThreshold=0}: every connection talks to the same backend session,
     * so the driver's named server-side statements ({@code S_1}, ...) of two connections would collide.
     */
    public String url() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?prepareThreshold=0";
    }

    public Connection connect() throws SQLException {
        return DriverManager.getConnection(url(), USER, PASSWORD);
    }

    /** The directory PGlite keeps the database in (PostgreSQL's own files, written by the WebAssembly build). */
    public Path dataDirectory() {
        return data.resolve("pgdata");
    }

    /** Stops the server and deletes its data. */
    synchronized void stop() {
        List<ProcessHandle> running = process.descendants().toList();
        running.forEach(ProcessHandle::destroy);
        try {
            process.getOutputStream().close(); // the shell then kills node itself
        } catch (IOException ignored) {
            // already closed
        }
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                running.forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Directories.deleteRecursively(data);
    }
}
