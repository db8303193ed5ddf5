package io.embedseal.keyring.dek;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RandomnessTest {

    /**
     * Nonces come from a per-thread buffer: across threads and buffer refills, with keys and ids drawn in between,
     * no 12-byte value is ever handed out twice (a repeat would be a reused GCM nonce).
     */
    @Test
    void noNonceIsHandedOutTwice_acrossThreadsAndRefills() throws Exception {
        Randomness r = Randomness.secure();
        int threads = 4;
        int perThread = 50_000;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<ByteBuffer>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                results.add(pool.submit(() -> {
                    List<ByteBuffer> nonces = new ArrayList<>(perThread);
                    for (int i = 0; i < perThread; i++) {
                        byte[] nonce = new byte[12];
                        r.nextBytes(nonce);
                        nonces.add(ByteBuffer.wrap(nonce));
                        if (i % 997 == 0) {
                            r.nextBytes(new byte[32]); // a key, straight from the DRBG
                            r.nextBytes(new byte[16]); // an id, from the buffer
                        }
                    }
                    return nonces;
                }));
            }
            Set<ByteBuffer> all = new HashSet<>();
            for (Future<List<ByteBuffer>> f : results) {
                all.addAll(f.get(60, TimeUnit.SECONDS));
            }
            assertThat(all).hasSize(threads * perThread);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void everyRequestSizeIsFilled_notLeftZero() {
        Randomness r = Randomness.secure();
        for (int size : new int[] {1, 12, 16, 17, 32, 1024, 4096}) {
            byte[] a = new byte[size];
            byte[] b = new byte[size];
            r.nextBytes(a);
            r.nextBytes(b);
            if (size >= 12) { // shorter draws may repeat or be zero by chance
                assertThat(a).as("two draws of %d bytes", size).isNotEqualTo(b);
                assertThat(a).as("a draw of %d bytes", size).isNotEqualTo(new byte[size]);
            }
        }
    }
}
