package io.embedseal.keyring.kms.aws;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The encryption context stands for exactly the associated data it was made from: two different byte strings never
 * share a context, whatever their shape, so AWS's refusal of another context is a refusal of other associated data.
 */
class EncryptionContextsTest {

    @Test
    void crafted_associatedData_fallsBackWhole_unlessItRebuildsByteForByte() {
        byte[] invalidUtf8 = {'p', 0, 2, (byte) 0xc3, (byte) 0x28, 1};
        byte[] lengthBeyond = {'p', 0, 9, 'a', 'b'};
        byte[] controlInPurpose = {'p', '\n', 0, 1, 'a'};
        byte[] emptyTenant = {'p', 0, 0, 1, 2};
        for (byte[] aad : new byte[][] {invalidUtf8, lengthBeyond, controlInPurpose, emptyTenant}) {
            assertThat(EncryptionContexts.of(aad, 1)).containsOnlyKeys("embedseal:aad", "embedseal:kek-version");
        }
        // A structured one whose id bytes look like another's tenant and id: still one to one.
        byte[] a = "p\0\u0001ab".getBytes(StandardCharsets.ISO_8859_1);
        byte[] b = "p\0\u0002ab".getBytes(StandardCharsets.ISO_8859_1);
        assertThat(EncryptionContexts.of(a, 1)).isNotEqualTo(EncryptionContexts.of(b, 1));
    }

    /** Random byte strings of embedseal's shape and near it: equal contexts only for equal bytes. */
    @Test
    void nearMisses_neverShareAContext() {
        Random random = new Random(28);
        Map<Map<String, String>, byte[]> seen = new HashMap<>();
        byte[] alphabet = {'e', '.', 'a', 0, 1, 2, 3, (byte) 0xc3, (byte) 0xa9, '-', 'Z'};
        for (int i = 0; i < 200_000; i++) {
            byte[] aad = new byte[1 + random.nextInt(8)];
            for (int j = 0; j < aad.length; j++) {
                aad[j] = alphabet[random.nextInt(alphabet.length)];
            }
            byte[] before = seen.putIfAbsent(EncryptionContexts.of(aad, 1), aad);
            if (before != null) {
                assertThat(before).as("two byte strings with one context").isEqualTo(aad);
            }
        }
        assertThat(seen.keySet().stream()
                        .filter(c -> c.containsKey("embedseal:tenant"))
                        .count())
                .as("structured contexts among them")
                .isPositive();
    }
}
