package io.embedseal.sinks.blind;

import io.embedseal.keyring.dek.RawAesKey;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's vector key for blind index mode: 32 random bytes known by a 16-byte id, and the approximation factor β
 * its ciphertexts are made with. The scheme's key (Fuchsbauer et al.'s {@code (s, K)}) is derived from it with
 * HKDF-SHA256 (RFC 5869; salt = the key id):
 * <ul>
 *   <li>{@code K} = HKDF-Expand(PRK, "embedseal.dcpe.prf.v1", 32): the AES-256 key whose CTR keystream is the
 *       per-ciphertext randomness (a PRF of the nonce, as the paper prescribes);
 *   <li>{@code s} = 1 + u · (S_MAX − 1), u = the first 53 bits of HKDF-Expand(PRK, "embedseal.dcpe.scale.v1", 8) over
 *       2^53: the scaling factor, uniform in [1, {@value #S_MAX});
 *   <li>the keyed rotation's key, HKDF-Expand(PRK, "embedseal.dcpe.rotation.v1", 32) ({@link Rotation}).
 * </ul>
 * Held in memory only while needed; {@link #destroy()} zeroes it. Never printed.
 */
public final class VectorKey implements AutoCloseable {

    public static final int KEY_BYTES = 32;
    public static final int ID_BYTES = 16;
    /** The scaling factors are drawn from [1, S_MAX). */
    public static final double S_MAX = 1024.0;

    static final byte[] PRF_INFO = "embedseal.dcpe.prf.v1".getBytes(StandardCharsets.US_ASCII);
    static final byte[] SCALE_INFO = "embedseal.dcpe.scale.v1".getBytes(StandardCharsets.US_ASCII);
    static final byte[] ROTATION_INFO = "embedseal.dcpe.rotation.v1".getBytes(StandardCharsets.US_ASCII);

    private final byte[] id;
    private final double beta;
    private final byte[] secret;
    private final byte[] prf;
    private final RawAesKey prfKey;
    private final byte[] rot;
    private final RawAesKey rotationKey;
    /** The rotation for the one dimension count this key has met (vectors of a store have one). */
    private @Nullable Rotation rotation;

    private final double scale;
    private volatile boolean destroyed;

    /**
     * Takes ownership of {@code secret} (zeroed by {@link #destroy()}).
     *
     * @param beta the approximation factor: the perturbation is drawn from a ball of radius s·β/4
     */
    public VectorKey(byte[] id, byte[] secret, double beta) {
        if (Objects.requireNonNull(id).length != ID_BYTES) {
            throw new IllegalArgumentException("a vector key id has " + ID_BYTES + " bytes");
        }
        if (secret.length != KEY_BYTES) {
            throw new IllegalArgumentException("a vector key has " + KEY_BYTES + " bytes");
        }
        checkBeta(beta);
        this.id = id.clone();
        this.secret = secret;
        this.beta = beta;
        byte[] prk = hmac(id, secret);
        try {
            this.prf = expand(prk, PRF_INFO, 32);
            this.rot = expand(prk, ROTATION_INFO, 32);
            byte[] s = expand(prk, SCALE_INFO, 8);
            long bits = 0;
            for (int i = 0; i < 8; i++) {
                bits = (bits << 8) | (s[i] & 0xff);
            }
            this.scale = 1.0 + ((bits >>> 11) * 0x1.0p-53) * (S_MAX - 1.0);
        } finally {
            Arrays.fill(prk, (byte) 0);
        }
        this.prfKey = new RawAesKey(prf);
        this.rotationKey = new RawAesKey(rot);
    }

    /** β must be a finite number in (0, 64]: 0 would be deterministic (no perturbation), and larger hides nothing more. */
    public static void checkBeta(double beta) {
        if (!(beta > 0 && beta <= 64)) {
            throw new IllegalArgumentException("the approximation factor beta must be in (0, 64], not " + beta);
        }
    }

    private static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    /** HKDF-Expand for at most one block (32 bytes). */
    private static byte[] expand(byte[] prk, byte[] info, int length) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(prk, "HmacSHA256"));
            mac.update(info);
            mac.update((byte) 1);
            byte[] t = mac.doFinal();
            byte[] out = Arrays.copyOf(t, length);
            Arrays.fill(t, (byte) 0);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    public byte[] id() {
        return id.clone();
    }

    public String idHex() {
        return HexFormat.of().formatHex(id);
    }

    public double beta() {
        return beta;
    }

    /** The scaling factor s. */
    double scale() {
        requireLive();
        return scale;
    }

    /**
     * {@code length} bytes of AES-256-CTR keystream under K with the initial counter block {@code nonce || 0^32}: the
     * PRF of the nonce that the ciphertext's randomness comes from. Under this key's lock, so a concurrent {@link
     * #destroy()} cannot leave the cipher a half-zeroed key.
     */
    synchronized byte[] keystream(byte[] nonce, int length) {
        requireLive();
        return ctr(prfKey, Arrays.copyOf(nonce, 16), length);
    }

    private static byte[] ctr(RawAesKey key, byte[] iv, int length) {
        try {
            javax.crypto.Cipher ctr = javax.crypto.Cipher.getInstance("AES/CTR/NoPadding");
            ctr.init(javax.crypto.Cipher.ENCRYPT_MODE, key, new javax.crypto.spec.IvParameterSpec(iv));
            return ctr.doFinal(new byte[length]);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/CTR is unavailable", e);
        }
    }

    /** The keyed rotation of {@code d} dimensions ({@link Rotation}), derived on first use and kept with the key. */
    synchronized Rotation rotation(int d) {
        requireLive();
        Rotation r = rotation;
        if (r == null || r.dimensions() != d) {
            // d in the nonce half, the counter half from 0: rotations of other sizes never share keystream blocks.
            byte[] iv = java.nio.ByteBuffer.allocate(16).putLong(0, d).array();
            byte[] stream = ctr(rotationKey, iv, 8 * Rotation.words(d));
            r = Rotation.derive(stream, d);
            Arrays.fill(stream, (byte) 0);
            if (rotation != null) {
                rotation.destroy();
            }
            rotation = r;
        }
        return r;
    }

    /** A copy of the 32 secret bytes, for wrapping by the KMS; the caller zeroes it. */
    public byte[] copyForWrapping() {
        requireLive();
        return secret.clone();
    }

    private void requireLive() {
        if (destroyed) {
            throw new IllegalStateException("vector key destroyed");
        }
    }

    public boolean isDestroyed() {
        return destroyed;
    }

    /** Zeroes the key; using it afterwards fails. */
    public synchronized void destroy() {
        destroyed = true;
        Arrays.fill(secret, (byte) 0);
        Arrays.fill(prf, (byte) 0);
        Arrays.fill(rot, (byte) 0);
        if (rotation != null) {
            rotation.destroy(); // with s, the rotation is the effective key
        }
        rotation = null;
    }

    @Override
    public void close() {
        destroy();
    }

    @Override
    public String toString() {
        return "VectorKey[" + idHex() + ", beta " + beta + (destroyed ? ", destroyed" : "") + "]";
    }
}
