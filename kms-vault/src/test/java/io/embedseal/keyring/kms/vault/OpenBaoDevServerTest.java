package io.embedseal.keyring.kms.vault;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.openbao.dev.OpenBaoDevServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The development server the demo and the tests start: where its root token goes, and that it dies with its JVM. */
@DisplayName("OpenBao dev server (openbao-dev): root token kept in memory, stopped with its JVM")
class OpenBaoDevServerTest {

    @TempDir
    Path dir;

    @Test
    void theRootTokenStaysOutOfTheTokenHelperFile_andOutOfTheLog() throws Exception {
        Path bao = OpenBao.binary();
        // The control: bao server -dev as such stores its root token with the CLI's token helper, in
        // $HOME/.vault-token, where it replaces the user's own token.
        Path home = Files.createDirectories(dir.resolve("home"));
        ProcessBuilder plain = new ProcessBuilder(
                        bao.toString(), "server", "-dev", "-dev-listen-address=127.0.0.1:" + freePort())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("plain.log").toFile());
        plain.environment().put("HOME", home.toString());
        plain.environment().put("BAO_DEV_ROOT_TOKEN_ID", "control-root-token");
        Process control = plain.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(home.resolve(".vault-token")) && System.nanoTime() < deadline) {
                Thread.sleep(50); // nothing to await but the server's start
            }
            assertThat(home.resolve(".vault-token")).hasContent("control-root-token");
        } finally {
            control.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }

        Path serverDir = dir.resolve("server");
        try (OpenBaoDevServer server = OpenBaoDevServer.start(bao, serverDir, false)) {
            server.enableTransit(null, "transit"); // the server is up and has long written what it writes

            assertThat(serverDir.resolve(".vault-token")).doesNotExist();
            assertThat(Files.readString(server.logFile()))
                    .contains("Root Token: <kept in memory>", "Unseal Key: <kept in memory>")
                    .doesNotContain(server.rootToken());
        }
    }

    @Test
    void aJvmThatIsKilled_takesItsDevServerWithIt() throws Exception {
        Path bao = OpenBao.binary();
        Process jvm = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        StartAndWait.class.getName(),
                        bao.toString(),
                        dir.toString())
                .redirectErrorStream(true)
                .start();
        String address;
        try (BufferedReader out =
                new BufferedReader(new InputStreamReader(jvm.getInputStream(), StandardCharsets.UTF_8))) {
            address = out.readLine();
            assertThat(address).as("the child JVM's first line").startsWith("http://127.0.0.1:");
            URI uri = URI.create(address);
            assertThat(accepts(uri))
                    .as("the server answers while its JVM lives")
                    .isTrue();

            jvm.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL: no shutdown hook runs

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (accepts(uri) && System.nanoTime() < deadline) {
                Thread.sleep(50); // the watcher sees the pipe close and kills bao
            }
            assertThat(accepts(uri)).as("the server outlived its JVM").isFalse();
        }
    }

    /** Starts a dev server, prints its address, and waits to be killed. */
    public static final class StartAndWait {
        public static void main(String[] args) throws Exception {
            OpenBaoDevServer server = OpenBaoDevServer.start(Path.of(args[0]), Path.of(args[1], "child"), false);
            System.out.println(server.address());
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    private static boolean accepts(URI uri) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
