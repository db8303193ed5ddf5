package io.embedseal.sinks.blind;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DcpeTest {

    private static VectorKey key(int seed, double beta) {
        Random r = new Random(seed);
        byte[] id = new byte[16];
        byte[] secret = new byte[32];
        r.nextBytes(id);
        r.nextBytes(secret);
        return new VectorKey(id, secret, beta);
    }

    /**
     * docs/blind-index.md's test vector (keyed rotation, then scale-and-perturb), computed independently in Python
     * (hmac, cryptography's AES-CTR, math).
     */
    @Test
    void testVector_matchesTheIndependentImplementation() {
        byte[] id = new byte[16];
        byte[] secret = new byte[32];
        byte[] nonce = new byte[12];
        for (int i = 0; i < 32; i++) {
            secret[i] = (byte) (0x20 + i);
        }
        for (int i = 0; i < 16; i++) {
            id[i] = (byte) i;
        }
        for (int i = 0; i < 12; i++) {
            nonce[i] = (byte) (0xa0 + i);
        }
        VectorKey k = new VectorKey(id, secret, 1.0);
        assertThat(k.scale()).isCloseTo(1022.4388386694487, within(1e-9));
        float[] c = Dcpe.encrypt(k, new float[] {0.5f, -0.25f, 1.0f, 0.0f, 0.125f}, nonce)
                .vector();
        StringBuilder hex = new StringBuilder();
        for (float v : c) {
            hex.append(String.format("%08x", Float.floatToIntBits(v)));
        }
        assertThat(hex.toString()).isEqualTo("4339d87f44627544c3037a25c418e689c3e0fbd2");
    }

    @Test
    void decryption_recoversTheVector_fromCiphertextAndNonce() {
        VectorKey k = key(1, 1.5);
        Random r = new Random(2);
        for (int d : new int[] {1, 2, 7, 384}) {
            float[] m = new float[d];
            for (int i = 0; i < d; i++) {
                m[i] = (float) r.nextGaussian();
            }
            Dcpe.Ciphertext c = Dcpe.encrypt(k, m);
            float[] back = Dcpe.decrypt(k, c.vector(), c.nonce());
            for (int i = 0; i < d; i++) {
                assertThat(back[i]).isCloseTo(m[i], within(1e-3f));
            }
            assertThat(c.vector()).isNotEqualTo(m);
        }
    }

    @Test
    void perturbation_liesInTheBallOfRadius_sBetaOver4_andDiffersPerNonce() {
        VectorKey k = key(3, 2.0);
        Random r = new Random(4);
        double radius = k.scale() * 2.0 / 4;
        double sum = 0;
        for (int i = 0; i < 200; i++) {
            byte[] nonce = new byte[12];
            r.nextBytes(nonce);
            double[] l = Dcpe.perturbation(k, nonce, 64);
            double n = 0;
            for (double x : l) {
                n += x * x;
            }
            n = Math.sqrt(n);
            assertThat(n).isLessThanOrEqualTo(radius);
            sum += n;
        }
        // Uniform in a 64-ball: E‖λ‖ = 64/65 of the radius.
        assertThat(sum / 200).isCloseTo(radius * 64 / 65, within(radius * 0.02));
        float[] m = new float[64];
        assertThat(Dcpe.encrypt(k, m).vector()).isNotEqualTo(Dcpe.encrypt(k, m).vector());
    }

    /** The scheme's guarantee: ‖x − y‖ < ‖x − z‖ − β implies the ciphertexts compare the same way. */
    @Test
    void comparisons_apartByMoreThanBeta_arePreserved() {
        double beta = 1.0;
        VectorKey k = key(5, beta);
        Random r = new Random(6);
        int checked = 0;
        int flippedWithin = 0;
        for (int t = 0; t < 3000; t++) {
            float[] x = gaussian(r, 16);
            float[] y = gaussian(r, 16);
            float[] z = gaussian(r, 16);
            double dy = dist(x, y);
            double dz = dist(x, z);
            float[] cx = Dcpe.encrypt(k, x).vector();
            boolean closer = dist(cx, Dcpe.encrypt(k, y).vector())
                    < dist(cx, Dcpe.encrypt(k, z).vector());
            if (dy < dz - beta) {
                checked++;
                assertThat(closer)
                        .as("comparison %d, apart by %.3f", t, dz - dy)
                        .isTrue();
            } else if (Math.abs(dy - dz) < beta && closer != dy < dz) {
                flippedWithin++;
            }
        }
        assertThat(checked).isGreaterThan(300);
        assertThat(flippedWithin)
                .as("comparisons closer than beta do flip sometimes")
                .isPositive();
    }

    @Test
    void rotation_keepsDistances_andIsUndone() {
        VectorKey k = key(11, 1.0);
        Random r = new Random(12);
        for (int d : new int[] {1, 2, 3, 384, 1536}) {
            Rotation rot = k.rotation(d);
            double[] a = new double[d];
            double[] b = new double[d];
            for (int i = 0; i < d; i++) {
                a[i] = r.nextGaussian();
                b[i] = r.nextGaussian();
            }
            double before = dist(a, b);
            double[] ra = a.clone();
            double[] rb = b.clone();
            rot.apply(ra);
            rot.apply(rb);
            assertThat(dist(ra, rb)).isCloseTo(before, within(1e-9 * before));
            rot.applyInverse(ra);
            for (int i = 0; i < d; i++) {
                assertThat(ra[i]).isCloseTo(a[i], within(1e-9));
            }
        }
    }

    /**
     * The attack the keyed rotation stops: an observer of the store who holds the public embedding model makes a query
     * of their own (here: the tenant's vector itself, the best an attacker can hope to guess) and ranks the tenant's
     * ciphertexts by cosine similarity to it, without any key. With scale-and-perturb alone (the rotation switched off)
     * a ciphertext points where its vector points, and the attacker finds the vector's ciphertext first nearly every
     * time; with the rotation, no better than chance.
     */
    @Test
    void keylessQueryWithThePublicModel_ranksSapCiphertexts_butNotRotatedOnes() {
        VectorKey k = key(13, 1.0);
        Random r = new Random(14);
        int n = 500;
        int d = 64;
        float[][] vectors = new float[n][];
        for (int i = 0; i < n; i++) {
            vectors[i] = Dcpe.unit(gaussian(r, d));
        }
        for (boolean rotate : new boolean[] {false, true}) {
            float[][] stored = new float[n][];
            for (int i = 0; i < n; i++) {
                byte[] nonce = new byte[12];
                r.nextBytes(nonce);
                stored[i] = Dcpe.encrypt(k, vectors[i], nonce, rotate).vector();
            }
            int found = 0;
            for (int q = 0; q < 100; q++) {
                float[] guess = vectors[q];
                int best = 0;
                double bestCos = -2;
                for (int i = 0; i < n; i++) {
                    double c = cos(guess, stored[i]);
                    if (c > bestCos) {
                        bestCos = c;
                        best = i;
                    }
                }
                found += best == q ? 1 : 0;
            }
            if (rotate) {
                assertThat(found).as("rotated: found by a keyless query").isLessThanOrEqualTo(5);
            } else {
                assertThat(found).as("SAP alone: found by a keyless query").isGreaterThanOrEqualTo(95);
            }
        }
    }

    @Test
    void anotherKey_givesOtherScaleAndNoise() {
        VectorKey a = key(7, 1.0);
        VectorKey b = key(8, 1.0);
        assertThat(a.scale()).isNotEqualTo(b.scale());
        byte[] nonce = new byte[12];
        float[] m = {1, 2, 3};
        assertThat(Dcpe.encrypt(a, m, nonce).vector())
                .isNotEqualTo(Dcpe.encrypt(b, m, nonce).vector());
    }

    @Test
    void destroyedKey_refusesToEncrypt_andHidesItsBytes() {
        VectorKey k = key(9, 1.0);
        assertThat(k.toString()).doesNotContain(HexFormat.of().formatHex(k.copyForWrapping()));
        k.destroy();
        assertThatThrownBy(() -> Dcpe.encrypt(k, new float[] {1, 2})).isInstanceOf(IllegalStateException.class);
        assertThat(k.toString()).contains("destroyed");
    }

    @Test
    void badInput_isRefused() {
        VectorKey k = key(10, 1.0);
        assertThatThrownBy(() -> Dcpe.encrypt(k, new float[] {1, Float.NaN})).hasMessageContaining("non-finite");
        assertThatThrownBy(() -> Dcpe.unit(new float[3])).hasMessageContaining("zero");
        assertThatThrownBy(() -> Dcpe.encrypt(k, new float[0])).hasMessageContaining("empty");
        // Finite in, but beyond float range once scaled: refused, not an infinite ciphertext.
        assertThatThrownBy(() -> Dcpe.encrypt(k, new float[] {3e38f, 1})).hasMessageContaining("too large");
        assertThatThrownBy(() -> Dcpe.encrypt(k, new float[Dcpe.MAX_DIMENSIONS + 1]))
                .hasMessageContaining("dimensions");
        byte[] ones = new byte[8];
        java.util.Arrays.fill(ones, (byte) 0xff);
        assertThat(Dcpe.uniform(ones, 0)).isLessThan(1.0);
        assertThat(Dcpe.uniform(new byte[8], 0)).isGreaterThan(0.0);
        assertThatThrownBy(() -> new VectorKey(new byte[16], new byte[32], 0)).hasMessageContaining("beta");
        assertThatThrownBy(() -> new VectorKey(new byte[16], new byte[32], Double.NaN))
                .hasMessageContaining("beta");
    }

    private static float[] gaussian(Random r, int d) {
        float[] v = new float[d];
        for (int i = 0; i < d; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    private static double cos(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    private static double dist(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - b[i];
            s += d * d;
        }
        return Math.sqrt(s);
    }

    private static double dist(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += d * d;
        }
        return Math.sqrt(s);
    }
}
