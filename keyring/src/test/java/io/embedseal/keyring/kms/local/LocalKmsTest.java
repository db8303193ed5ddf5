package io.embedseal.keyring.kms.local;

import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.UnknownKeyException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LocalKmsTest {

    private static final byte[] DEK = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] AAD = "tenant-a".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void firstUse_createsKeysetReadableByOwnerOnly() throws Exception {
        LocalKms kms = new LocalKms(dir.resolve("kms"), true);

        KekRef kek = kms.currentKek("tenant-acme");

        assertThat(kek).isEqualTo(new KekRef("local", "tenant-acme", 1));
        Path file = dir.resolve("kms/tenant-acme.keyset.json");
        assertThat(file).exists();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("kms")))).isEqualTo("rwx------");
        try (var leftovers = Files.list(dir.resolve("kms"))) {
            assertThat(leftovers).extracting(p -> p.getFileName().toString()).containsExactly("tenant-acme.keyset.json");
        }
    }

    @Test
    void wrapThenUnwrap_returnsTheDek() {
        LocalKms kms = new LocalKms(dir, true);
        KekRef kek = kms.currentKek("tenant-acme");

        byte[] wrapped = kms.wrapDek(kek, DEK, AAD);

        assertThat(wrapped).isNotEqualTo(DEK);
        assertThat(indexOf(wrapped, Arrays.copyOf(DEK, 8))).as("raw DEK bytes inside the wrapped form").isEqualTo(-1);
        assertThat(kms.unwrapDek(kek, wrapped, AAD)).isEqualTo(DEK);
    }

    @Test
    void keyPersists_anotherInstanceOnTheSameDirectoryUnwraps() {
        LocalKms first = new LocalKms(dir, true);
        KekRef kek = first.currentKek("tenant-acme");
        byte[] wrapped = first.wrapDek(kek, DEK, AAD);

        LocalKms second = new LocalKms(dir, false);

        assertThat(second.currentKek("tenant-acme")).isEqualTo(kek);
        assertThat(second.unwrapDek(kek, wrapped, AAD)).isEqualTo(DEK);
    }

    @Test
    void unwrapWithOtherAssociatedData_fails() {
        LocalKms kms = new LocalKms(dir, true);
        KekRef kek = kms.currentKek("tenant-acme");
        byte[] wrapped = kms.wrapDek(kek, DEK, AAD);

        assertThatThrownBy(() -> kms.unwrapDek(kek, wrapped, "tenant-b".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void unwrapWithAnotherTenantsKek_fails() {
        LocalKms kms = new LocalKms(dir, true);
        byte[] wrapped = kms.wrapDek(kms.currentKek("tenant-a"), DEK, AAD);

        assertThatThrownBy(() -> kms.unwrapDek(kms.currentKek("tenant-b"), wrapped, AAD))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void everySingleBitFlipOfAWrappedDek_fails() {
        LocalKms kms = new LocalKms(dir, true);
        KekRef kek = kms.currentKek("tenant-acme");
        byte[] wrapped = kms.wrapDek(kek, DEK, AAD);

        for (int bit = 0; bit < wrapped.length * 8; bit++) {
            byte[] flipped = wrapped.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            assertThatThrownBy(() -> kms.unwrapDek(kek, flipped, AAD)).isInstanceOf(InvalidWrappedKeyException.class);
        }
    }

    @Test
    void missingKey_withoutCreation_isUnknown() {
        LocalKms kms = new LocalKms(dir, false);

        assertThatThrownBy(() -> kms.currentKek("tenant-nobody"))
                .isInstanceOf(UnknownKeyException.class)
                .hasMessageContaining("tenant-nobody");
        assertThat(dir.resolve("tenant-nobody.keyset.json")).doesNotExist();
    }

    @Test
    void versionThatDoesNotExist_isUnknown() {
        LocalKms kms = new LocalKms(dir, true);
        KekRef kek = kms.currentKek("tenant-acme");

        assertThatThrownBy(() -> kms.wrapDek(kek.withVersion(2), DEK, AAD))
                .isInstanceOf(UnknownKeyException.class)
                .hasMessageContaining("no version 2");
    }

    @Test
    void kekOfAnotherProvider_isUnknown() {
        LocalKms kms = new LocalKms(dir, true);

        assertThatThrownBy(() -> kms.wrapDek(new KekRef("vault", "tenant-acme", 1), DEK, AAD))
                .isInstanceOf(UnknownKeyException.class)
                .hasMessageContaining("vault");
    }

    @Test
    void keyNameThatIsNotFileSafe_isRejectedBeforeTouchingDisk() {
        LocalKms kms = new LocalKms(dir, true);

        assertThatThrownBy(() -> kms.currentKek("../escape")).isInstanceOf(IllegalArgumentException.class);
        assertThat(dir.getParent().resolve("escape.keyset.json")).doesNotExist();
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
