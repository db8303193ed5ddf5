package io.embedseal.keyring.kms;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The public half of one version of a public-key KEK: enough to wrap data keys without the KMS, never enough to
 * unwrap them. Two kinds, told apart by the key itself:
 * <ul>
 *   <li><b>RSA</b> (2048 bits or more; Vault Transit {@code rsa-3072}, an RSA key pair in a PKCS#11 token): wrapped
 *       by {@link RsaKeyWrap} (RSA-OAEP-SHA256 of a one-use AES key, then AES-256-GCM of the DEK under the associated
 *       data), format {@code "ESPK" 0x01};</li>
 *   <li><b>X25519</b> (the local development KMS): HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 *       AES-256-GCM ({@link Hpke}), with the associated data as HPKE's info, format
 *       {@code "ESPK" 0x02 || enc(32) || ciphertext(32) || tag(16)}.</li>
 * </ul>
 * Both bind the wrap to the same associated data a KMS binds a symmetric wrap to (tenant, DEK id, purpose): a wrapped
 * key moved to another tenant or DEK does not open. The key travels as its X.509 SubjectPublicKeyInfo (DER), pinned in
 * the tenant's signed REGISTERED (and ROTATED) key event; {@link #fingerprint()} names it in logs and the CLI.
 * Immutable and thread-safe.
 */
public final class PublicKek {

    /** The wrap formats; the first four bytes of every public-key wrapped DEK. */
    static final byte[] MAGIC = {'E', 'S', 'P', 'K'};

    static final byte HPKE_FORMAT = 2;
    private static final int HPKE_WRAPPED_BYTES = MAGIC.length + 1 + Hpke.ENC_BYTES + 32 + 16;

    /** The algorithms a public-key KEK may use. */
    public enum Algorithm {
        /** RSA-OAEP with SHA-256 and MGF1-SHA-256, 2048 bits or more. */
        RSA_OAEP_SHA256,
        /** HPKE with X25519 (development). */
        HPKE_X25519
    }

    /** The receiving side of an HPKE wrap, done by whatever holds the private key. */
    @FunctionalInterface
    public interface HpkeOpener {
        /**
         * Opens {@code encAndCiphertext} (as {@link Hpke#seal} wrote it) with HPKE info {@code info} and empty
         * associated data.
         */
        byte[] open(byte[] encAndCiphertext, byte[] info);
    }

    private final KekRef kek;
    private final byte[] spki;
    private final Algorithm algorithm;
    private final int bits;
    private final byte @org.jspecify.annotations.Nullable [] x25519;
    private final @org.jspecify.annotations.Nullable RSAPublicKey rsa;

    private PublicKek(KekRef kek, byte[] spki) {
        this.kek = Objects.requireNonNull(kek, "kek");
        this.spki = spki.clone();
        byte[] raw = Hpke.rawFromSpki(this.spki);
        if (raw != null) {
            if (!Hpke.isUsableX25519(raw)) {
                throw new IllegalArgumentException("the X25519 public key of " + kek
                        + " is not canonical, or a point of small order (every wrap under it would be readable)");
            }
            this.algorithm = Algorithm.HPKE_X25519;
            this.x25519 = raw;
            this.rsa = null;
            this.bits = 255;
            return;
        }
        RSAPublicKey key;
        try {
            key = (RSAPublicKey) KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(this.spki));
        } catch (GeneralSecurityException | ClassCastException | IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "the public key of " + kek + " is neither an RSA nor an X25519 SubjectPublicKeyInfo (DER)");
        }
        if (key.getModulus().bitLength() < 2048) {
            throw new IllegalArgumentException("the RSA public key of " + kek + " has "
                    + key.getModulus().bitLength() + " bits; a public-key KEK needs 2048 or more (3072 recommended)");
        }
        this.algorithm = Algorithm.RSA_OAEP_SHA256;
        this.rsa = key;
        this.x25519 = null;
        this.bits = key.getModulus().bitLength();
    }

    /**
     * @param spki the public key as X.509 SubjectPublicKeyInfo (DER)
     * @throws IllegalArgumentException if it is not an RSA key of 2048 bits or more, or an X25519 key
     */
    public static PublicKek of(KekRef kek, byte[] spki) {
        return new PublicKek(kek, Objects.requireNonNull(spki, "spki"));
    }

    /** The KEK version this is the public half of. */
    public KekRef kek() {
        return kek;
    }

    /** The public key as X.509 SubjectPublicKeyInfo (DER); a copy. */
    public byte[] spki() {
        return spki.clone();
    }

    public Algorithm algorithm() {
        return algorithm;
    }

    /**
     * Whether a KMS of this provider can hold this key's private half: X25519 (HPKE) key pairs are the local development
     * KMS's, RSA key pairs every other provider's. A key event pinning a key its KMS cannot open is refused.
     */
    public boolean suitsProvider(String provider) {
        return (algorithm == Algorithm.HPKE_X25519) == LOCAL_PROVIDER.equals(provider);
    }

    /** The provider name of the local development KMS, the only one with X25519 key pairs. */
    static final String LOCAL_PROVIDER = "local";

    /** The key's size in bits: the RSA modulus, or 255 for X25519. */
    public int bits() {
        return bits;
    }

    /** {@code RSA-3072}, {@code X25519}: for messages. */
    public String describeKey() {
        return algorithm == Algorithm.HPKE_X25519 ? "X25519" : "RSA-" + bits;
    }

    /** {@code SHA256:} and the hex SHA-256 of the SubjectPublicKeyInfo: what an operator compares. */
    public String fingerprint() {
        return fingerprint(spki);
    }

    /** The fingerprint of any SubjectPublicKeyInfo, as {@link #fingerprint()} gives it. */
    public static String fingerprint(byte[] spki) {
        try {
            return "SHA256:"
                    + HexFormat.of()
                            .formatHex(MessageDigest.getInstance("SHA-256").digest(spki));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is unavailable", e);
        }
    }

    /** The same public key for another KEK reference (a KMS that reports the key under its version). */
    public PublicKek withKek(KekRef other) {
        return new PublicKek(other, spki);
    }

    /**
     * Wraps {@code dek} with this public key, bound to {@code associatedData}: no KMS call, no credential.
     *
     * @param dek the raw key bytes; the caller keeps ownership and zeroes them
     */
    public WrappedDek wrap(byte[] dek, byte[] associatedData) {
        if (algorithm == Algorithm.RSA_OAEP_SHA256) {
            return new WrappedDek(kek, RsaKeyWrap.wrap(Objects.requireNonNull(rsa), dek, associatedData));
        }
        byte[] sealed = Hpke.seal(Objects.requireNonNull(x25519), associatedData, new byte[0], dek);
        byte[] wrapped = new byte[MAGIC.length + 1 + sealed.length];
        System.arraycopy(MAGIC, 0, wrapped, 0, MAGIC.length);
        wrapped[MAGIC.length] = HPKE_FORMAT;
        System.arraycopy(sealed, 0, wrapped, MAGIC.length + 1, sealed.length);
        return new WrappedDek(kek, wrapped);
    }

    /** Whether these bytes are a DEK wrapped with a public key (either format), as opposed to a KMS's own wrap. */
    public static boolean isPublicKeyWrap(byte[] wrapped) {
        return wrapped.length > MAGIC.length
                && Arrays.equals(wrapped, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
                && (wrapped[MAGIC.length] == RsaKeyWrap.VERSION || wrapped[MAGIC.length] == HPKE_FORMAT);
    }

    /**
     * Opens an HPKE-wrapped DEK through whatever holds the private key.
     *
     * @throws InvalidWrappedKeyException if the bytes are not of that format (the opener reports a failed open)
     */
    public static byte[] unwrapHpke(byte[] wrapped, byte[] associatedData, HpkeOpener opener) {
        if (wrapped.length != HPKE_WRAPPED_BYTES
                || !Arrays.equals(wrapped, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
                || wrapped[MAGIC.length] != HPKE_FORMAT) {
            throw new InvalidWrappedKeyException("not an HPKE-wrapped data key (format ESPK 2, " + HPKE_WRAPPED_BYTES
                    + " bytes; got " + wrapped.length + " bytes)");
        }
        return opener.open(Arrays.copyOfRange(wrapped, MAGIC.length + 1, wrapped.length), associatedData);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PublicKek p && kek.equals(p.kek) && Arrays.equals(spki, p.spki);
    }

    @Override
    public int hashCode() {
        return 31 * kek.hashCode() + Arrays.hashCode(spki);
    }

    @Override
    public String toString() {
        return "PublicKek[" + kek + ", " + describeKey() + ", " + fingerprint() + "]";
    }
}
