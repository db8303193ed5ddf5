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
    void associatedDataOverlappingTheOutput_isRefused_beforeTheNonceOverwritesIt() throws Exception {
        byte[] out = new byte[AAD.length + 1 + Dek.OVERHEAD];
        System.arraycopy(AAD, 0, out, 0, AAD.length);
        byte[] before = out.clone();

        // The output starts inside the associated data: the nonce, drawn into it first, would change what is
        // authenticated.
        assertThatThrownBy(() -> dek(key()).encrypt(new byte[1], 0, 1, out, 0, AAD.length, out, AAD.length - 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overlaps");
        assertThat(out).as("nothing written").isEqualTo(before);
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

    @Test
    void destroy_zeroesTheKeyAndDropsItsCiphers_andEveryLaterUseFailsClosed() throws Exception {
        byte[] key = key();
        Dek dek = dek(key);
        byte[] ct = dek.encrypt(new byte[64], AAD);
        assertThat(dek.isErased()).isFalse();

        dek.destroy();

        assertThat(dek.isDestroyed()).isTrue();
        assertThat(dek.isErased()).as("key bytes zeroed, keyed ciphers dropped").isTrue();
        assertThatThrownBy(() -> dek.encrypt(new byte[1], AAD))
                .isInstanceOf(DekDestroyedException.class)
                .isInstanceOf(io.embedseal.keyring.kms.KmsUnavailableException.class)
                .hasMessageContaining("DEK destroyed")
                .hasMessageNotContaining(java.util.HexFormat.of().formatHex(key));
        assertThatThrownBy(() -> dek.decrypt(ct, AAD)).isInstanceOf(DekDestroyedException.class);
        byte[] out = new byte[100];
        assertThatThrownBy(() -> dek.encrypt(new byte[1], 0, 1, AAD, 0, AAD.length, out, 0))
                .isInstanceOf(DekDestroyedException.class);
        assertThat(out).as("nothing written").containsOnly(0);
        dek.destroy(); // idempotent
        assertThat(dek.id()).isNotNull();
        assertThat(dek.wrapped())
                .as("the wrapped form is not secret and stays readable")
                .containsExactly(1);
        assertThat(tink(key).decrypt(ct, AAD))
                .as("what it sealed before still opens elsewhere")
                .hasSize(64);
    }

    /**
     * A DEK destroyed while another thread is inside an encryption: that encryption completes with the whole key (its
     * ciphertext opens under the key), the key is zeroed as it ends, and the next use fails.
     */
    @Test
    void destroyWhileAnEncryptionIsUnderWay_letsItComplete_thenErases() throws Exception {
        byte[] key = key();
        java.util.concurrent.CountDownLatch inside = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch proceed = new java.util.concurrent.CountDownLatch(1);
        Randomness slowNonce = bytes -> {
            inside.countDown();
            try {
                proceed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Randomness.secure().nextBytes(bytes);
        };
        Dek dek = new Dek(
                "acme",
                DekId.of(new byte[16], 0, 16),
                new KekRef("local", "tenant-acme", 1),
                new byte[] {1},
                key.clone(),
                slowNonce);
        byte[] plaintext = "under way".getBytes(StandardCharsets.US_ASCII);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            java.util.concurrent.Future<byte[]> sealing = pool.submit(() -> dek.encrypt(plaintext, AAD));
            assertThat(inside.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

            dek.destroy();
            assertThat(dek.isDestroyed()).isTrue();
            assertThat(dek.isErased())
                    .as("not while the encryption is under way")
                    .isFalse();
            proceed.countDown();
            byte[] ct = sealing.get(10, java.util.concurrent.TimeUnit.SECONDS);

            assertThat(tink(key).decrypt(ct, AAD))
                    .as("sealed under the whole key")
                    .isEqualTo(plaintext);
            assertThat(dek.isErased()).as("erased by the last operation out").isTrue();
            assertThatThrownBy(() -> dek.encrypt(plaintext, AAD)).isInstanceOf(DekDestroyedException.class);
        } finally {
            proceed.countDown();
            pool.shutdownNow();
        }
    }

    /**
     * Destruction racing many threads' operations: every operation either completes correctly (its ciphertext opens
     * under the key) or fails with {@link DekDestroyedException}; none produces a wrong ciphertext or another error.
     */
    @Test
    void destroyRacingManyThreads_neverGivesAWrongResult() throws Exception {
        for (int round = 0; round < 20; round++) {
            byte[] key = key();
            Dek dek = dek(key);
            int threads = 4;
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
            try {
                java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads + 1);
                java.util.List<java.util.concurrent.Future<java.util.List<byte[]>>> results =
                        new java.util.ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    results.add(pool.submit(() -> {
                        start.await();
                        java.util.List<byte[]> sealed = new java.util.ArrayList<>();
                        for (int i = 0; i < 2_000; i++) {
                            try {
                                sealed.add(dek.encrypt(new byte[] {(byte) i}, AAD));
                            } catch (DekDestroyedException e) {
                                return sealed;
                            }
                        }
                        return sealed;
                    }));
                }
                start.await();
                Thread.sleep(round % 3);
                dek.destroy();
                Aead check = tink(key);
                for (java.util.concurrent.Future<java.util.List<byte[]>> f : results) {
                    for (byte[] ct : f.get(60, java.util.concurrent.TimeUnit.SECONDS)) {
                        assertThat(check.decrypt(ct, AAD)).hasSize(1);
                    }
                }
                assertThat(dek.isErased()).isTrue();
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
