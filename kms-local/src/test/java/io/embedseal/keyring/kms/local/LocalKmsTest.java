package io.embedseal.keyring.kms.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.WrappedDek;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What is particular to the local provider; the shared behaviour is in its contract test. */
class LocalKmsTest {

    private static final byte[] DEK = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] AAD = "aad".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void keysetsAreReadableByTheOwnerOnly() throws Exception {
        LocalKms kms = new LocalKms(dir.resolve("kms"));

        kms.createKek("tenant-acme");
        kms.disable("tenant-acme");

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("kms"))))
                .isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(
                        Files.getPosixFilePermissions(dir.resolve("kms/tenant-acme.keyset.json"))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(
                        Files.getPosixFilePermissions(dir.resolve("kms/tenant-acme.state.properties"))))
                .isEqualTo("rw-------");
        try (var files = Files.list(dir.resolve("kms"))) {
            assertThat(files).extracting(p -> p.getFileName().toString()).noneMatch(n -> n.endsWith(".tmp"));
        }
    }

    @Test
    void changesByAnotherProcess_takeEffectOnTheNextCall() {
        LocalKms pipeline = new LocalKms(dir);
        LocalKms operator = new LocalKms(dir);
        operator.createKek("tenant-acme");
        WrappedDek w = pipeline.wrapDek("tenant-acme", DEK, AAD);

        operator.disable("tenant-acme");
        assertThatThrownBy(() -> pipeline.unwrapDek(w.kek(), w.wrapped(), AAD)).isInstanceOf(KeyDeniedException.class);
        operator.enable("tenant-acme");
        operator.rotate("tenant-acme");

        assertThat(pipeline.wrapDek("tenant-acme", DEK, AAD).kek().version()).isEqualTo(2);
        assertThat(pipeline.describe("tenant-acme").state()).isEqualTo(KeyState.ENABLED);
    }

    @Test
    void destroy_removesTheFiles() {
        LocalKms kms = new LocalKms(dir);
        kms.createKek("tenant-acme");
        kms.disable("tenant-acme");

        kms.destroy("tenant-acme");

        assertThat(dir.resolve("tenant-acme.keyset.json")).doesNotExist();
        assertThat(dir.resolve("tenant-acme.state.properties")).doesNotExist();
    }

    @Test
    void keyNameThatIsNotFileSafe_isRejectedBeforeTouchingDisk() {
        LocalKms kms = new LocalKms(dir);

        assertThatThrownBy(() -> kms.createKek("../escape")).isInstanceOf(IllegalArgumentException.class);
        assertThat(dir.getParent().resolve("escape.keyset.json")).doesNotExist();
    }

    @Test
    void concurrentCreation_yieldsOneKey() throws Exception {
        Thread[] threads = new Thread[8];
        WrappedDek[] wrapped = new WrappedDek[threads.length];
        for (int i = 0; i < threads.length; i++) {
            int n = i;
            threads[i] = new Thread(() -> {
                LocalKms kms = new LocalKms(dir);
                kms.createKek("tenant-race");
                wrapped[n] = kms.wrapDek("tenant-race", DEK, AAD);
            });
            threads[i].start();
        }
        for (Thread t : threads) {
            t.join();
        }

        LocalKms check = new LocalKms(dir);
        assertThat(check.describe("tenant-race").latestVersion()).isEqualTo(1);
        for (WrappedDek w : wrapped) {
            assertThat(check.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
        }
    }
}
