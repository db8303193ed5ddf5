package io.embedseal.keyring.kms;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * The tenant's side of a key import, and the checks both sides compute: wrapping key material for a KMS's transport key
 * ({@link ImportParameters.Wrapping}: RSA-OAEP of a one-use AES-256 key k, then AES key wrap with padding, RFC 5649, of
 * the material under k: {@code RSA-OAEP(transport, k) || AES-KWP(k, material)}, the format Vault/OpenBao Transit's BYOK
 * import takes), and the key check that proves which key a KMS holds.
 *
 * <p>The same wrapping can be made with openssl alone (docs/key-management.md shows the commands), so a tenant need not
 * run embedseal's code next to its key material.
 */
public final class KeyImportWrap {

    /** The associated data of the key-check ciphertext. */
    static final byte[] CHECK_LABEL = "embedseal.key-check.v1".getBytes(StandardCharsets.US_ASCII);

    private static final SecureRandom RANDOM = new SecureRandom();

    private KeyImportWrap() {}

    /** Key material the tenant made: the secret bytes (to wrap) and, for a key pair, its public key. */
    public record Material(byte[] secret, byte @Nullable [] publicKey) {
        @Override
        public String toString() {
            return "Material[" + secret.length + " secret bytes" + (publicKey == null ? "" : ", a public key") + "]";
        }
    }

    /** New key material of the kind the parameters ask for (the tenant's side; its own HSM may make it instead). */
    public static Material generate(ImportParameters p) {
        try {
            return switch (p.material()) {
                case AES_256_RAW -> {
                    byte[] key = new byte[32];
                    RANDOM.nextBytes(key);
                    yield new Material(key, null);
                }
                case RSA_3072_PKCS8 -> {
                    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
                    g.initialize(3072, RANDOM);
                    KeyPair pair = g.generateKeyPair();
                    yield new Material(
                            pair.getPrivate().getEncoded(), pair.getPublic().getEncoded());
                }
                case X25519_RAW -> {
                    KeyPairGenerator g = KeyPairGenerator.getInstance("X25519");
                    KeyPair pair = g.generateKeyPair();
                    byte[] scalar = ((java.security.interfaces.XECPrivateKey) pair.getPrivate())
                            .getScalar()
                            .orElseThrow();
                    yield new Material(scalar, pair.getPublic().getEncoded());
                }
            };
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate key material: " + e.getMessage(), e);
        }
    }

    /** The X.509 public key of a raw X25519 private key (RFC 7748 scalar, 32 bytes). */
    public static byte[] x25519PublicKey(byte[] privateKey) {
        try {
            java.security.PrivateKey priv = KeyFactory.getInstance("X25519")
                    .generatePrivate(new java.security.spec.XECPrivateKeySpec(
                            java.security.spec.NamedParameterSpec.X25519, privateKey.clone()));
            // u(public) = X25519(scalar, 9): the JDK computes it as an agreement with the base point.
            javax.crypto.KeyAgreement ka = javax.crypto.KeyAgreement.getInstance("X25519");
            ka.init(priv);
            byte[] base = new byte[32];
            base[0] = 9;
            ka.doPhase(
                    KeyFactory.getInstance("X25519").generatePublic(new X509EncodedKeySpec(Hpke.spkiFromRaw(base))),
                    true);
            return Hpke.spkiFromRaw(ka.generateSecret());
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(
                    "not an X25519 private key: " + e.getClass().getSimpleName(), e);
        }
    }

    /**
     * Wraps key material for the KMS's transport key: {@code RSA-OAEP(transport, k) || AES-KWP(k, material)}, k a fresh
     * AES-256 key used for nothing else.
     */
    public static byte[] wrap(ImportParameters p, byte[] material) {
        byte[] k = new byte[32];
        RANDOM.nextBytes(k);
        try {
            RSAPublicKey transport = (RSAPublicKey)
                    KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(p.transportKey()));
            if (transport.getModulus().bitLength() < 2048) {
                throw new IllegalArgumentException("a transport key has at least 2048 bits");
            }
            Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPPadding");
            rsa.init(Cipher.ENCRYPT_MODE, transport, oaep(p.wrapping()), RANDOM);
            byte[] c1 = rsa.doFinal(k);
            Cipher kwp = Cipher.getInstance("AES/KWP/NoPadding");
            kwp.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(k, "AES"));
            byte[] c2 = kwp.doFinal(material);
            byte[] out = Arrays.copyOf(c1, c1.length + c2.length);
            System.arraycopy(c2, 0, out, c1.length, c2.length);
            return out;
        } catch (GeneralSecurityException | ClassCastException e) {
            throw new IllegalArgumentException(
                    "cannot wrap key material for " + p.provider() + ":" + p.keyName() + ": "
                            + e.getClass().getSimpleName(),
                    e);
        } finally {
            Arrays.fill(k, (byte) 0);
        }
    }

    /**
     * Unwraps what {@link #wrap} made, with the transport private key: for a KMS that does it in Java (the local one).
     *
     * @throws InvalidWrappedKeyException if it does not unwrap
     */
    public static byte[] unwrap(
            ImportParameters.Wrapping wrapping, PrivateKey transport, int modulusBytes, byte[] wrapped) {
        if (wrapped.length <= modulusBytes + 8) {
            throw new InvalidWrappedKeyException("wrapped key material of " + wrapped.length + " bytes is too short");
        }
        byte[] k = null;
        try {
            Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPPadding");
            rsa.init(Cipher.DECRYPT_MODE, transport, oaep(wrapping));
            k = rsa.doFinal(wrapped, 0, modulusBytes);
            Cipher kwp = Cipher.getInstance("AES/KWP/NoPadding");
            kwp.init(Cipher.DECRYPT_MODE, new SecretKeySpec(k, "AES"));
            return kwp.doFinal(wrapped, modulusBytes, wrapped.length - modulusBytes);
        } catch (GeneralSecurityException e) {
            throw new InvalidWrappedKeyException("wrapped key material does not unwrap with this transport key ("
                    + e.getClass().getSimpleName() + ")");
        } finally {
            if (k != null) {
                Arrays.fill(k, (byte) 0);
            }
        }
    }

    /**
     * The key check of an AES-256 key: 12 zero bytes (the nonce) || AES-256-GCM(key, nonce, associated data
     * {@code "embedseal.key-check.v1"}) of 16 zero bytes. Only that key makes it, and a KMS holding the key opens it
     * (as a Vault Transit ciphertext {@code vault:v1:<base64>} of an {@code aes256-gcm96} key, for one); the nonce is
     * used with this key for this one message only.
     */
    public static byte[] check(byte[] aesKey) {
        try {
            Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
            gcm.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(aesKey, "AES"), new GCMParameterSpec(128, new byte[12]));
            gcm.updateAAD(CHECK_LABEL);
            byte[] sealed = gcm.doFinal(new byte[16]);
            byte[] out = new byte[12 + sealed.length];
            System.arraycopy(sealed, 0, out, 12, sealed.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is unavailable", e);
        }
    }

    /**
     * Opens the tenant's key check through a KMS: true if symmetric KEK version {@code kek} is the key the check was made
     * with, false if it is another key.
     *
     * @param kms     an identity that may unwrap under the key (the pipeline's or a sink's)
     * @param wrapped the check as {@link KeyImport#checkAsWrappedDek} gave it
     * @throws KmsException as the KMS reports it, other than an invalid wrapped key
     */
    public static boolean verify(Kms kms, KekRef kek, byte[] wrapped) {
        try {
            return Arrays.equals(kms.unwrapDek(kek, wrapped, checkLabel()), new byte[16]);
        } catch (InvalidWrappedKeyException e) {
            return false;
        }
    }

    /** The associated data of the key check, for a KMS that opens it (base64 in Vault's request). */
    public static byte[] checkLabel() {
        return CHECK_LABEL.clone();
    }

    /**
     * The key check value people compare: {@code KCV:} and the first 8 bytes of SHA-256 of the check, in hex. The
     * tenant's tool prints it when it makes the check; the operator's CLI prints it once the KMS opened the check.
     */
    public static String checkValue(byte[] check) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(check);
            return "KCV:" + HexFormat.of().formatHex(h, 0, 8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is unavailable", e);
        }
    }

    private static OAEPParameterSpec oaep(ImportParameters.Wrapping w) {
        MGF1ParameterSpec mgf = w.hash().equals("SHA-1") ? MGF1ParameterSpec.SHA1 : MGF1ParameterSpec.SHA256;
        return new OAEPParameterSpec(w.hash(), "MGF1", mgf, PSource.PSpecified.DEFAULT);
    }
}
