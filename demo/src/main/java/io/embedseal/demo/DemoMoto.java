package io.embedseal.demo;

import io.embedseal.aws.dev.MotoKmsServer;
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
 * {@code demo --kms aws} without {@code kms.aws.endpoint}: a moto KMS server the demo starts (in memory, any
 * credentials taken) and stops when it ends, with a credentials file of dummy keys for the provider to sign with. A
 * development server, and said so loudly; with an endpoint (or none and real AWS credentials: give
 * {@code kms.aws.endpoint} of your region's KMS) the demo uses that instead.
 */
final class DemoMoto implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DemoMoto.class);

    private final MotoKmsServer server;
    private final Map<String, String> settings;

    private DemoMoto(MotoKmsServer server, Map<String, String> settings) {
        this.server = server;
        this.settings = settings;
    }

    /** Whether the demo starts a moto server: AWS KMS was asked for without an endpoint. */
    static boolean wanted(Map<String, String> kmsSettings) {
        return "aws".equals(kmsSettings.get("kms.provider")) && !kmsSettings.containsKey("kms.aws.endpoint");
    }

    /** Starts a server when {@link #wanted}; null otherwise. */
    static @Nullable DemoMoto startIfNeeded(Map<String, String> kmsSettings, Path dataDir) {
        if (!wanted(kmsSettings)) {
            return null;
        }
        Path python = MotoKmsServer.findPython()
                .orElseThrow(() -> new IllegalArgumentException("--kms aws without --kms-setting kms.aws.endpoint"
                        + " starts a moto KMS server, but no Python with moto was found: " + MotoKmsServer.INSTALL_HINT
                        + ". Or give your AWS KMS endpoint and region with --kms-setting kms.aws.endpoint=https://..."
                        + " --kms-setting kms.aws.region=..."));
        Path dir = dataDir.resolve("moto");
        MotoKmsServer server = MotoKmsServer.start(python, dir);
        try {
            // moto checks no signature; the SDK still needs keys to sign with, so dummy ones, in a file of their own.
            Path credentials = dir.resolve("credentials");
            Files.createFile(
                    credentials, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(
                    credentials,
                    "[embedseal-demo]\naws_access_key_id = AKIAEMBEDSEALDEMO\naws_secret_access_key = not-a-secret\n",
                    StandardCharsets.UTF_8);
            Map<String, String> s = new HashMap<>(kmsSettings);
            s.put("kms.aws.endpoint", server.endpoint());
            s.put("kms.aws.allow-insecure-http", "true");
            s.putIfAbsent("kms.aws.region", MotoKmsServer.REGION);
            s.put("kms.aws.credentials-file", credentials.toString());
            s.put("kms.aws.profile", "embedseal-demo");
            LOG.warn(
                    "DEVELOPMENT SERVER: started moto's KMS server at {} for this demo: in memory, any credentials"
                            + " taken, plain http on loopback; it stops, and its keys are gone, when the demo ends."
                            + " Never keep data under it. Log: {}",
                    server.endpoint(),
                    server.logFile());
            return new DemoMoto(server, Map.copyOf(s));
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
        return "moto KMS server at " + server.endpoint() + ", started and stopped by the demo (development only)";
    }

    @Override
    public void close() {
        server.close();
    }
}
