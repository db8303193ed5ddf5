package io.embedseal.sinks.blind;

import java.security.SecureRandom;
import java.util.Objects;

/**
 * Scale-and-perturb, the approximately distance-comparison-preserving encryption of Fuchsbauer, Ghosal, Hauke and
 * O'Neill ("Approximate Distance-Comparison-Preserving Symmetric Encryption", SCN 2022, the SAP scheme), implemented
 * from the paper, applied to the vector turned by a keyed rotation R ({@link Rotation}; the rotation is embedseal's
 * addition: it keeps every distance, so the paper's guarantee is untouched, and it stops ciphertexts pointing where
 * their vectors point). With key (s, K, R) and approximation factor β, a vector m of d dimensions encrypts as
 * <pre>
 *   n ← 12 random bytes (the nonce, stored beside the ciphertext)
 *   coins ← AES-256-CTR(K, n || 0^32)                         (a PRF of the nonce, read as 64-bit big-endian words)
 *   u ← N(0, I_d) from the coins (Box–Muller on pairs of uniforms, StrictMath)
 *   x' ← U(0, 1) from the next word;  x ← s·β/4 · x'^(1/d)
 *   λ ← u · x / ‖u‖                                             (uniform in the d-ball of radius s·β/4)
 *   c ← s·R(m) + λ                                              (as float32)
 * </pre>
 * so that for any x, y, z: ‖x − y‖ &lt; ‖x − z‖ − β implies ‖c_x − c_y‖ &lt; ‖c_x − c_z‖ (β-distance-comparison
 * preserving). Euclidean distance only: cosine similarity is served by normalising first ({@link #unit}). Decryption
 * recomputes λ from the nonce: m = Rᵀ((c − λ)/s).
 *
 * <p>A uniform is {@code ((w >>> 12) + 0.5) · 2^-52}, in (0, 1). Gaussian pair j uses uniforms 2j and 2j+1:
 * {@code r = sqrt(-2 ln u_2j)}, {@code g_2j = r cos(2π u_2j+1)}, {@code g_2j+1 = r sin(2π u_2j+1)}; an odd d drops the
 * last sine; x' is the uniform after the last pair. docs/blind-index.md has a test vector.
 */
public final class Dcpe {

    public static final int NONCE_BYTES = 12;

    private static final SecureRandom RANDOM = new SecureRandom();

    /** A ciphertext: the encrypted vector, which the store indexes, and its nonce, which it keeps beside it. */
    public record Ciphertext(float[] vector, byte[] nonce) {
        @Override
        public String toString() {
            return "Dcpe.Ciphertext[" + vector.length + " dims]";
        }
    }

    private Dcpe() {}

    /** Encrypts under a fresh random nonce. */
    public static Ciphertext encrypt(VectorKey key, float[] m) {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        return encrypt(key, m, nonce);
    }

    /** Encrypts under the given nonce (a test vector's; otherwise use {@link #encrypt(VectorKey, float[])}). */
    public static Ciphertext encrypt(VectorKey key, float[] m, byte[] nonce) {
        return encrypt(key, m, nonce, true);
    }

    /** The most dimensions encrypted: the stores index at most 4,096 (Lucene) and 2,000 (pgvector's HNSW). */
    public static final int MAX_DIMENSIONS = 4096;

    /** {@code rotate=false}: the paper's SAP alone, for the test that shows what the rotation stops. */
    static Ciphertext encrypt(VectorKey key, float[] m, byte[] nonce, boolean rotate) {
        Objects.requireNonNull(m, "vector");
        if (m.length < 1) {
            throw new IllegalArgumentException("an empty vector cannot be encrypted");
        }
        if (m.length > MAX_DIMENSIONS) {
            throw new IllegalArgumentException(
                    "a vector of " + m.length + " dimensions; at most " + MAX_DIMENSIONS + " are encrypted");
        }
        if (nonce.length != NONCE_BYTES) {
            throw new IllegalArgumentException("a nonce has " + NONCE_BYTES + " bytes");
        }
        double[] x = new double[m.length];
        for (int i = 0; i < m.length; i++) {
            if (!Float.isFinite(m[i])) {
                throw new IllegalArgumentException("a vector to encrypt has a non-finite value");
            }
            x[i] = m[i];
        }
        if (rotate) {
            key.rotation(m.length).apply(x);
        }
        double[] lambda = perturbation(key, nonce, m.length);
        double s = key.scale();
        float[] c = new float[m.length];
        for (int i = 0; i < m.length; i++) {
            c[i] = (float) (s * x[i] + lambda[i]);
            if (!Float.isFinite(c[i])) {
                throw new IllegalArgumentException("a vector too large to encrypt (a value beyond float range)");
            }
        }
        return new Ciphertext(c, nonce.clone());
    }

    /** m = Rᵀ((c − λ)/s), to float precision. */
    public static float[] decrypt(VectorKey key, float[] c, byte[] nonce) {
        double[] lambda = perturbation(key, nonce, c.length);
        double s = key.scale();
        double[] x = new double[c.length];
        for (int i = 0; i < c.length; i++) {
            x[i] = (c[i] - lambda[i]) / s;
        }
        key.rotation(c.length).applyInverse(x);
        float[] m = new float[c.length];
        for (int i = 0; i < c.length; i++) {
            m[i] = (float) x[i];
        }
        return m;
    }

    /** λ for the nonce: a point uniform in the d-ball of radius s·β/4. */
    static double[] perturbation(VectorKey key, byte[] nonce, int d) {
        if (d < 1) {
            throw new IllegalArgumentException("a vector has at least one dimension");
        }
        int pairs = (d + 1) / 2;
        byte[] coins = key.keystream(nonce, 8 * (2 * pairs + 1));
        double[] u = new double[2 * pairs];
        double norm2 = 0;
        for (int j = 0; j < pairs; j++) {
            double u1 = uniform(coins, 2 * j);
            double u2 = uniform(coins, 2 * j + 1);
            double r = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
            double a = 2.0 * StrictMath.PI * u2;
            u[2 * j] = r * StrictMath.cos(a);
            u[2 * j + 1] = r * StrictMath.sin(a);
        }
        for (int i = 0; i < d; i++) {
            norm2 += u[i] * u[i];
        }
        double xPrime = uniform(coins, 2 * pairs);
        double x = key.scale() * key.beta() / 4.0 * StrictMath.pow(xPrime, 1.0 / d);
        double f = x / StrictMath.sqrt(norm2);
        double[] lambda = new double[d];
        for (int i = 0; i < d; i++) {
            lambda[i] = u[i] * f;
        }
        java.util.Arrays.fill(coins, (byte) 0);
        return lambda;
    }

    /** The {@code i}-th 64-bit big-endian word of the coins as a double in (0, 1). */
    static double uniform(byte[] coins, int i) {
        long w = 0;
        for (int b = 0; b < 8; b++) {
            w = (w << 8) | (coins[8 * i + b] & 0xff);
        }
        return ((w >>> 12) + 0.5) * 0x1.0p-52; // 52 bits and a half: never 0, never 1
    }

    /** A unit vector in the direction of {@code v} (cosine similarity); a zero vector is refused. */
    public static float[] unit(float[] v) {
        double n = 0;
        for (float x : v) {
            n += (double) x * x;
        }
        if (!(n > 0) || !Double.isFinite(n)) {
            throw new IllegalArgumentException("a zero or non-finite vector has no direction");
        }
        double inv = 1.0 / Math.sqrt(n);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] * inv);
        }
        return out;
    }
}
