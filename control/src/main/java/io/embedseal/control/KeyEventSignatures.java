package io.embedseal.control;

import com.google.crypto.tink.subtle.Ed25519Verify;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * The signature rules of key events: what is signed (a context string, a zero byte, the event's bytes), how a
 * signing key is named (its key id), and verification with the public key alone, which never calls a KMS.
 */
public final class KeyEventSignatures {

    /** Signed before the event's bytes, so a signature made by the same key for another purpose never verifies. */
    static final String CONTEXT = "embedseal/key-event/v1";

    /** An Ed25519 SubjectPublicKeyInfo: a 12-byte header, then the 32-byte key (RFC 8410). */
    private static final int ED25519_SPKI_LENGTH = 44;

    private KeyEventSignatures() {}

    /** The message a signer signs for these event bytes. */
    public static byte[] message(byte[] eventBytes) {
        return KmsSigner.message(CONTEXT, eventBytes);
    }

    /** Hex of the first 16 bytes of SHA-256 over the key's X.509 SubjectPublicKeyInfo. */
    public static String keyId(PublicKey key) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(key.getEncoded());
            return HexFormat.of().formatHex(d, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** The key as carried in settings and events: base64 of its SubjectPublicKeyInfo. */
    public static String encode(PublicKey key) {
        return Base64.getEncoder().encodeToString(key.getEncoded());
    }

    /**
     * Reads a public key from base64 SubjectPublicKeyInfo, or from a PEM block ({@code -----BEGIN PUBLIC KEY-----}).
     *
     * @throws IllegalArgumentException if it is neither, or not an Ed25519, EC or RSA key
     */
    public static PublicKey parse(String text) {
        String b64 = text.strip();
        if (b64.startsWith("-----BEGIN PUBLIC KEY-----")) {
            int end = b64.indexOf("-----END PUBLIC KEY-----");
            if (end < 0) {
                throw new IllegalArgumentException("a PEM public key without its END line");
            }
            b64 = b64.substring("-----BEGIN PUBLIC KEY-----".length(), end);
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(b64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not base64 or PEM", e);
        }
        for (String alg : new String[] {"Ed25519", "EC", "RSA"}) {
            try {
                return KeyFactory.getInstance(alg).generatePublic(new X509EncodedKeySpec(der));
            } catch (GeneralSecurityException | RuntimeException e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException("not an Ed25519, EC or RSA public key (X.509 SubjectPublicKeyInfo)");
    }

    /** The JCA signature for a key's type: Ed25519, SHA256withECDSA, or RSASSA-PSS with SHA-256. */
    static Signature verifierFor(PublicKey key) throws GeneralSecurityException {
        switch (key.getAlgorithm()) {
            case "Ed25519", "EdDSA" -> {
                return Signature.getInstance("Ed25519");
            }
            case "EC" -> {
                return Signature.getInstance("SHA256withECDSA");
            }
            case "RSA", "RSASSA-PSS" -> {
                Signature s = Signature.getInstance("RSASSA-PSS");
                s.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
                return s;
            }
            default -> throw new GeneralSecurityException("unsupported signing key type " + key.getAlgorithm());
        }
    }

    /** True if {@code signature} is the key's signature over the message for {@code eventBytes}. */
    public static boolean verify(PublicKey key, byte[] eventBytes, byte[] signature) {
        return verifyMessage(key, message(eventBytes), signature);
    }

    /** True if {@code signature} is the key's signature over exactly {@code message} (context included). */
    public static boolean verifyMessage(PublicKey key, byte[] message, byte[] signature) {
        byte[] spki = key.getEncoded();
        if (("Ed25519".equals(key.getAlgorithm()) || "EdDSA".equals(key.getAlgorithm()))
                && spki.length == ED25519_SPKI_LENGTH) {
            // Tink's Ed25519 (RFC 8032, strict: it refuses non-canonical encodings) verifies in 166 us where the
            // JDK's takes 630 (KeyEventVerifyBenchmark, side by side).
            try {
                new Ed25519Verify(Arrays.copyOfRange(spki, spki.length - 32, spki.length)).verify(signature, message);
                return true;
            } catch (GeneralSecurityException | RuntimeException e) {
                return false;
            }
        }
        try {
            Signature s = verifierFor(key);
            s.initVerify(key);
            s.update(message);
            return s.verify(signature);
        } catch (GeneralSecurityException | RuntimeException e) {
            return false; // a malformed signature is a bad one
        }
    }
}
