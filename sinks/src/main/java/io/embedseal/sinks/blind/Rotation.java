package io.embedseal.sinks.blind;

/**
 * A keyed rotation of d dimensions: L = 2·⌈log2 d⌉ + 2 layers, each a keyed permutation of the coordinates paired off
 * ((π(0), π(1)), (π(2), π(3)), ...; an odd d leaves π(d−1) alone) and every pair turned by its own keyed angle (a Givens
 * rotation). Each layer is orthogonal, so distances and angles are kept exactly (to double rounding); the L·d/2
 * rotations are the d·log d steps after which Kac's random walk on the orthogonal group is mixed (Pillai and Smith,
 * "Kac's walk on n-sphere mixes in n log n steps", Ann. Appl. Probab. 2017, shows that many suffice for a point on the
 * sphere). It is a structured rotation with L·d/2 keyed angles (3,840 at d = 384), not a Haar-random one.
 *
 * <p>Why: scale-and-perturb alone leaves each ciphertext pointing where its vector points (c/s = m + λ/s), so anyone
 * holding the public embedding model could rank a tenant's ciphertexts against a query of their own making, or invert
 * them towards the text. Turned by a rotation only the key knows, they point elsewhere. It does not stop known-plaintext
 * or distribution-matching attacks: docs/blind-index.md.
 *
 * <p>Derivation: a keystream of AES-256-CTR under R = HKDF-Expand(PRK, "embedseal.dcpe.rotation.v1", 32) with the
 * initial counter block d (64 bits, big-endian) followed by 64 zero bits, read as 64-bit big-endian words turned into uniforms as
 * {@link Dcpe#uniform} does. Per layer: a Fisher–Yates shuffle of 0..d−1 (for i = d−1 down to 1: j = ⌊u·(i+1)⌋, swap i
 * and j), then one angle θ = 2π·u per pair.
 */
final class Rotation {

    private final int d;
    /** Per layer, the coordinates in pair order. */
    private final int[][] order;

    private final double[][] cos;
    private final double[][] sin;

    private Rotation(int d, int[][] order, double[][] cos, double[][] sin) {
        this.d = d;
        this.order = order;
        this.cos = cos;
        this.sin = sin;
    }

    static int layers(int d) {
        int log = 32 - Integer.numberOfLeadingZeros(Math.max(1, d - 1));
        return 2 * log + 2;
    }

    /** Words of keystream a rotation of d dimensions reads. */
    static int words(int d) {
        return layers(d) * ((d - 1) + d / 2);
    }

    static Rotation derive(byte[] keystream, int d) {
        int layers = layers(d);
        int[][] order = new int[layers][];
        double[][] cos = new double[layers][d / 2];
        double[][] sin = new double[layers][d / 2];
        int w = 0;
        for (int l = 0; l < layers; l++) {
            int[] p = new int[d];
            for (int i = 0; i < d; i++) {
                p[i] = i;
            }
            for (int i = d - 1; i >= 1; i--) {
                int j = (int) (Dcpe.uniform(keystream, w++) * (i + 1));
                int t = p[i];
                p[i] = p[j];
                p[j] = t;
            }
            order[l] = p;
            for (int k = 0; k < d / 2; k++) {
                double theta = 2.0 * StrictMath.PI * Dcpe.uniform(keystream, w++);
                cos[l][k] = StrictMath.cos(theta);
                sin[l][k] = StrictMath.sin(theta);
            }
        }
        return new Rotation(d, order, cos, sin);
    }

    int dimensions() {
        return d;
    }

    /** Zeroes the permutations and angles. */
    void destroy() {
        for (int l = 0; l < order.length; l++) {
            java.util.Arrays.fill(order[l], 0);
            java.util.Arrays.fill(cos[l], 0);
            java.util.Arrays.fill(sin[l], 0);
        }
    }

    /** x ← Rx, in place. */
    void apply(double[] x) {
        for (int l = 0; l < order.length; l++) {
            int[] p = order[l];
            double[] c = cos[l];
            double[] s = sin[l];
            for (int k = 0; k < d / 2; k++) {
                int a = p[2 * k];
                int b = p[2 * k + 1];
                double xa = x[a];
                double xb = x[b];
                x[a] = c[k] * xa - s[k] * xb;
                x[b] = s[k] * xa + c[k] * xb;
            }
        }
    }

    /** x ← Rᵀx (the inverse), in place. */
    void applyInverse(double[] x) {
        for (int l = order.length - 1; l >= 0; l--) {
            int[] p = order[l];
            double[] c = cos[l];
            double[] s = sin[l];
            for (int k = 0; k < d / 2; k++) {
                int a = p[2 * k];
                int b = p[2 * k + 1];
                double xa = x[a];
                double xb = x[b];
                x[a] = c[k] * xa + s[k] * xb;
                x[b] = -s[k] * xa + c[k] * xb;
            }
        }
    }
}
