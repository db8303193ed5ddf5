package io.embedseal.keyring.dek;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.crypto.tink.Aead;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.aead.AesGcmKey;
import com.google.crypto.tink.aead.AesGcmParameters;
import com.google.crypto.tink.subtle.AesGcmJce;
import com.google.crypto.tink.util.SecretBytes;
import io.embedseal.keyring.kms.KekRef;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import javax.crypto.AEADBadTagException;
import org.junit.jupiter.api.Test;

class DekTest {

    private static final byte[] AAD = "header".getBytes(StandardCharsets.US_ASCII);

    private static byte[] key() {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        return k;
    }

    private static Dek dek(byte[] key) {
        return new Dek(
                "acme",
                DekId.of(new byte[16], 0, 16),
                new KekRef("local", "tenant-acme", 1),
                new byte[] {1},
                key.clone(),
                Randomness.secure());
    }

    private static Aead tink(byte[] key) throws GeneralSecurityException {
        return AesGcmJce.create(AesGcmKey.builder()
                .setParameters(AesGcmParameters.builder()
                        .setKeySizeBytes(32)
                        .setIvSizeBytes(12)
                        .setTagSizeBytes(16)
                        .setVariant(AesGcmParameters.Variant.NO_PREFIX)
                        .build())
                .setKeyBytes(SecretBytes.copyFrom(key, InsecureSecretKeyAccess.get()))
                .build());
    }

    @Test
    void ourCiphertext_isTinkAes256GcmWithoutPrefix_andTinksOpensWithOurs() throws Exception {
        byte[] key = key();
        byte[] plaintext = "an embedding, in some encoding".getBytes(StandardCharsets.UTF_8);

        byte[] ours = dek(key).encrypt(plaintext, AAD);
        byte[] theirs = tink(key).encrypt(plaintext, AAD);

        assertThat(tink(key).decrypt(ours, AAD)).isEqualTo(plaintext);
        assertThat(dek(key).decrypt(theirs, AAD)).isEqualTo(plaintext);
        assertThat(ours).hasSize(plaintext.length + Dek.OVERHEAD);
    }

    @Test
    void encryptsInPlaceBehindItsAssociatedData() throws Exception {
        byte[] key = key();
        byte[] plaintext = new byte[1000];
        new SecureRandom().nextBytes(plaintext);
        byte[] out = new byte[AAD.length + plaintext.length + Dek.OVERHEAD];
        System.arraycopy(AAD, 0, out, 0, AAD.length);

        int n = dek(key).encrypt(plaintext, 0, plaintext.length, out, 0, AAD.length, out, AAD.length);

        assertThat(n).isEqualTo(plaintext.length + Dek.OVERHEAD);
        assertThat(tink(key).decrypt(Arrays.copyOfRange(out, AAD.length, out.length), AAD))
                .isEqualTo(plaintext);
    }

    @Test
    void everyEncryptionUsesAFreshNonce() throws Exception {
        Dek dek = dek(key());
        Set<String> nonces = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            nonces.add(Arrays.toString(Arrays.copyOf(dek.encrypt(new byte[1], AAD), 12)));
        }
        assertThat(nonces).hasSize(10_000);
    }

    @Test
    void alteredCiphertextOrAad_failsAuthentication() throws Exception {
        Dek dek = dek(key());
        byte[] ct = dek.encrypt(new byte[64], AAD);
        byte[] altered = ct.clone();
        altered[20] ^= 1;

        assertThatThrownBy(() -> dek.decrypt(altered, AAD)).isInstanceOf(AEADBadTagException.class);
        assertThatThrownBy(() -> dek.decrypt(ct, "other".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(AEADBadTagException.class);
        assertThatThrownBy(() -> dek.decrypt(Arrays.copyOf(ct, 27), AAD)).isInstanceOf(AEADBadTagException.class);
    }

    /**
     * Each DEK lends its own keyed cipher to one thread at a time and the others fall back to their thread's cipher:
     * under contention, with DEKs interleaved on every thread, every ciphertext still opens under its own key only,
     * and a failed decryption leaves nothing behind that spoils the next operation.
     */
    @Test
    void interleavedDeksOnManyThreads_eachCiphertextOpensUnderItsOwnKeyOnly() throws Exception {
        Dek[] deks = {dek(key()), dek(key()), dek(key())};
        int threads = 6;
        int perThread = 2_000;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            java.util.List<java.util.concurrent.Future<Integer>> results = new java.util.ArrayList<>();
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
            for (int t = 0; t < threads; t++) {
                int seed = t;
                results.add(pool.submit(() -> {
                    start.await();
                    java.util.Random r = new java.util.Random(seed);
                    int checked = 0;
                    for (int i = 0; i < perThread; i++) {
                        int k = r.nextInt(deks.length);
                        byte[] plaintext = new byte[1 + r.nextInt(200)];
                        r.nextBytes(plaintext);
                        byte[] ct = deks[k].encrypt(plaintext, AAD);
                        assertThat(deks[k].decrypt(ct, AAD)).isEqualTo(plaintext);
                        Dek other = deks[(k + 1) % deks.length];
                        assertThatThrownBy(() -> other.decrypt(ct, AAD)).isInstanceOf(AEADBadTagException.class);
                        checked++;
                    }
                    return checked;
                }));
            }
            for (java.util.concurrent.Future<Integer> f : results) {
                assertThat(f.get(60, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(perThread);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
