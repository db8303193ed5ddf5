package io.embedseal.demo;

import io.embedseal.openbao.dev.OpenBaoDevServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code demo --kms vault} without {@code kms.vault.address}: an OpenBao dev server the demo starts (TLS under the
 * server's own CA, Transit mounted, in memory) and stops when it ends. A development server, and said so loudly.
 */
final class DemoOpenBao implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DemoOpenBao.class);

    private final OpenBaoDevServer server;
    private final Map<String, String> settings;

    private DemoOpenBao(OpenBaoDevServer server, Map<String, String> settings) {
        this.server = server;
        this.settings = settings;
    }

    /** Whether the demo starts a dev server: Vault was asked for without an address. */
    static boolean wanted(Map<String, String> kmsSettings) {
        return "vault".equals(kmsSettings.get("kms.provider")) && !kmsSettings.containsKey("kms.vault.address");
    }

    /** Starts a dev server when {@link #wanted}; null otherwise. */
    static @Nullable DemoOpenBao startIfNeeded(Map<String, String> kmsSettings, Path dataDir) {
        if (!wanted(kmsSettings)) {
            return null;
        }
        Path bao = OpenBaoDevServer.findBinary()
                .orElseThrow(() -> new IllegalArgumentException("--kms vault without --kms-setting kms.vault.address"
                        + " starts an OpenBao dev server, but no bao was found: " + OpenBaoDevServer.INSTALL_HINT
                        + ". Or give the address of your Vault with --kms-setting kms.vault.address=https://..."));
        Path dir = dataDir.resolve("openbao");
        OpenBaoDevServer server = OpenBaoDevServer.start(bao, dir, true);
        try {
            server.enableTransit(null, "transit");
            Path token = dir.resolve("root-token");
            Files.createFile(token, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(token, server.rootToken(), StandardCharsets.UTF_8);
            Map<String, String> s = new HashMap<>(kmsSettings);
            s.put("kms.vault.address", server.address());
            s.put("kms.vault.ca-file", String.valueOf(server.caFile()));
            s.put("kms.vault.token-file", token.toString());
            LOG.warn(
                    "DEVELOPMENT SERVER: started an OpenBao dev server ({}) at {} for this demo: in memory, unsealed,"
                            + " a root token, TLS under its own CA; it stops, and its keys are gone, when the demo ends."
                            + " Never keep data under it. Log: {}",
                    bao,
                    server.address(),
                    server.logFile());
            return new DemoOpenBao(server, Map.copyOf(s));
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
    }

    /** The demo's KMS settings, pointed at this server. */
    Map<String, String> settings() {
        return settings;
    }

    /** For the report. */
    String description() {
        return "OpenBao dev server at " + server.address() + ", started and stopped by the demo (development only)";
    }

    @Override
    public void close() {
        server.close();
    }
}
