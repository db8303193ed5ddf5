package io.embedseal.app;

import io.embedseal.control.KeyEventAuthor;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.kms.local.LocalKms;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The tests' operator signing key: one development (local KMS) Ed25519 key per JVM, installed into each test's KMS
 * directory under the default name, so that pipelines and sinks with default settings trust it
 * ({@code kms:embedseal-operator-signing}), the CLI signs with it, and events a test publishes directly carry the
 * tenant's next sequence.
 */
public final class TestSigning {

    private static final Path HOME;
    public static final KeyEventAuthor OPERATOR;

    static {
        try {
            HOME = Files.createTempDirectory("embedseal-test-signing");
            OPERATOR = KeyEventAuthor.creatingKey(
                    new LocalKms(HOME).signingKeys().orElseThrow(), KeyringSettings.DEFAULT_SIGNING_KEY, "test");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private TestSigning() {}

    /** Puts the operator's signing key into a local KMS directory (created if missing); returns the directory. */
    public static Path installInto(Path kmsDir) {
        String file = KeyringSettings.DEFAULT_SIGNING_KEY + ".signing-keyset.json";
        try {
            Files.createDirectories(kmsDir);
            Files.copy(HOME.resolve(file), kmsDir.resolve(file), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return kmsDir;
    }
}
