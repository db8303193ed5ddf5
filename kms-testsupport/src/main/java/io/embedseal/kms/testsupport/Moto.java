package io.embedseal.kms.testsupport;

import io.embedseal.aws.dev.MotoKmsServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * <b>Test code.</b> A real AWS KMS API for the tests: moto's server ({@link MotoKmsServer}, with the key-state rules AWS
 * documents added), one per test JVM, started on first use and stopped at exit. Each caller takes an alias prefix of its
 * own ({@link #settings()}), so test classes never see each other's keys.
 *
 * <p>Without moto the calling test is skipped with a message saying what to install, unless
 * {@value #REQUIRE_ENV}{@code =1} (as CI sets it), which makes it a failure.
 */
public final class Moto {

    /** Set to 1 (CI does) to fail, not skip, the tests that need moto when it is missing. */
    public static final String REQUIRE_ENV = "EMBEDSEAL_REQUIRE_MOTO";

    /** The dummy credentials moto takes (it checks no signature). */
    public static final Map<String, String> CREDENTIALS =
            Map.of("AWS_ACCESS_KEY_ID", "AKIAEMBEDSEALTESTING", "AWS_SECRET_ACCESS_KEY", "embedseal-testing-only");

    private static @Nullable MotoKmsServer shared;

    private Moto() {}

    /** A Python with moto, or skips (fails under {@value #REQUIRE_ENV}=1) the calling test. */
    public static Path python() {
        return MotoKmsServer.findPython().orElseGet(() -> {
            String message = "needs moto's KMS server (a real AWS KMS API); " + MotoKmsServer.INSTALL_HINT;
            if ("1".equals(System.getenv(REQUIRE_ENV))) {
                Assertions.fail(message + "; " + REQUIRE_ENV + "=1 makes this a failure");
            }
            Assumptions.abort(message);
            throw new AssertionError("unreachable");
        });
    }

    /** The test JVM's server, started on first use. Do not stop it. */
    public static synchronized MotoKmsServer shared() {
        Path python = python();
        if (shared == null || !shared.isAlive()) {
            try {
                shared = MotoKmsServer.start(python, Files.createTempDirectory("embedseal-moto-"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return shared;
    }

    /**
     * {@code kms.*} settings for the shared server with an alias prefix of their own ({@code t<random>/}): the keys
     * they make are seen by no other caller.
     */
    public static Map<String, String> settings() {
        return settings(shared());
    }

    /** As {@link #settings()}, for {@code server}. */
    public static Map<String, String> settings(MotoKmsServer server) {
        Map<String, String> s = new HashMap<>();
        s.put("kms.provider", "aws");
        s.put("kms.aws.region", MotoKmsServer.REGION);
        s.put("kms.aws.endpoint", server.endpoint());
        s.put("kms.aws.allow-insecure-http", "true");
        s.put(
                "kms.aws.alias-prefix",
                "t" + UUID.randomUUID().toString().replace("-", "").substring(0, 12) + "/");
        return s;
    }

    /**
     * {@link #settings()} with {@link #CREDENTIALS} in a shared credentials file ({@code kms.aws.credentials-file}), for
     * whatever reads its settings but not the test's environment (a Connect worker in this JVM, a child process).
     */
    public static Map<String, String> settingsWithCredentialsFile() {
        Map<String, String> s = settings();
        try {
            Path file = Files.createTempFile("embedseal-moto-credentials", ".ini");
            Files.writeString(
                    file,
                    "[embedseal-test]\naws_access_key_id = " + CREDENTIALS.get("AWS_ACCESS_KEY_ID")
                            + "\naws_secret_access_key = " + CREDENTIALS.get("AWS_SECRET_ACCESS_KEY") + "\n");
            file.toFile().deleteOnExit();
            s.put("kms.aws.credentials-file", file.toString());
            s.put("kms.aws.profile", "embedseal-test");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return s;
    }

    /** An environment with {@link #CREDENTIALS} and nothing else, for {@code KmsSettings.of(values, env)}. */
    public static Function<String, @Nullable String> environment() {
        return name -> CREDENTIALS.get(name);
    }
}
