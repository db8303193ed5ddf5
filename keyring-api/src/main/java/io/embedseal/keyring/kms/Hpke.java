package io.embedseal.keyring.kms;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.interfaces.XECPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * HPKE (RFC 9180) in base mode, single shot, sender side only, for one cipher suite: DHKEM(X25519, HKDF-SHA256)
 * (KEM 0x0020), HKDF-SHA256 (KDF 0x0001), AES-256-GCM (AEAD 0x0002). Written from the RFC (sections 4, 5.1, 5.2,
 * 6.1, 7.1) on the JDK's X25519 and HMAC, so that the sealing side needs no cryptography library; the receiving side
 * (the local KMS) opens with Tink's HPKE, which makes every test of a wrap a check of this code against an
 * independent implementation.
 *
 * <p>Output is {@code enc (32 bytes) || ciphertext || tag (16 bytes)}, as Tink's HPKE with no output prefix writes
 * it: {@code info} is HPKE's info (Tink's "context info"), the AEAD's associated data is {@code aad}.
 */
public final class Hpke {

    /** Length of {@code enc}: an X25519 public key. */
    public static final int ENC_BYTES = 32;
    /** Bytes a seal adds to its plaintext. */
    public static final int OVERHEAD = ENC_BYTES + 16;

    /** DER of an X25519 SubjectPublicKeyInfo (RFC 8410) up to the 32 key bytes. */
    static final byte[] X25519_SPKI_PREFIX = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};

    private static final byte[] VERSION_LABEL = ascii("HPKE-v1");
    private static final byte[] KEM_SUITE = {'K', 'E', 'M', 0x00, 0x20};
    private static final byte[] SUITE = {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x02};
    private static final int NH = 32;
    private static final int NK = 32;
    private static final int NN = 12;
    private static final SecureRandom RANDOM = new SecureRandom();

    private Hpke() {}

    /**
     * Seals {@code plaintext} to the X25519 public key given as its 32 raw bytes (RFC 7748 little-endian u).
     *
     * @throws IllegalArgumentException if the key is not 32 bytes, or is a low-order point (the shared secret is 0)
     */
    public static byte[] seal(byte[] recipient, byte[] info, byte[] aad, byte[] plaintext) {
        if (recipient.length != ENC_BYTES) {
            throw new IllegalArgumentException("an X25519 public key has 32 bytes, not " + recipient.length);
        }
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("X25519");
            g.initialize(255, RANDOM);
            KeyPair ephemeral = g.generateKeyPair();
            byte[] enc = rawX25519((XECPublicKey) ephemeral.getPublic());
            byte[] dh;
            try {
                KeyAgreement ka = KeyAgreement.getInstance("X25519");
                ka.init(ephemeral.getPrivate());
                ka.doPhase(x25519(recipient), true);
                dh = ka.generateSecret();
            } catch (java.security.InvalidKeyException | IllegalStateException e) {
                // the JDK refuses a point of small order, and an all-zero result (RFC 7748 section 6.1)
                throw new IllegalArgumentException("the X25519 public key is a point of small order", e);
            }
            // Encap (4.1): shared_secret = ExtractAndExpand(dh, enc || pkRm)
            byte[] eaePrk = labeledExtract(KEM_SUITE, new byte[0], ascii("eae_prk"), dh);
            Arrays.fill(dh, (byte) 0);
            byte[] sharedSecret = labeledExpand(KEM_SUITE, eaePrk, ascii("shared_secret"), concat(enc, recipient), NH);
            Arrays.fill(eaePrk, (byte) 0);
            // KeySchedule (5.1), mode_base, no PSK
            byte[] pskIdHash = labeledExtract(SUITE, new byte[0], ascii("psk_id_hash"), new byte[0]);
            byte[] infoHash = labeledExtract(SUITE, new byte[0], ascii("info_hash"), info);
            byte[] context = concat(new byte[] {0x00}, pskIdHash, infoHash);
            byte[] secret = labeledExtract(SUITE, sharedSecret, ascii("secret"), new byte[0]);
            Arrays.fill(sharedSecret, (byte) 0);
            byte[] key = labeledExpand(SUITE, secret, ascii("key"), context, NK);
            byte[] nonce = labeledExpand(SUITE, secret, ascii("base_nonce"), context, NN);
            Arrays.fill(secret, (byte) 0);
            try {
                // Seal with sequence number 0: the nonce is base_nonce itself (5.2)
                Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
                gcm.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
                gcm.updateAAD(aad);
                byte[] out = Arrays.copyOf(enc, ENC_BYTES + plaintext.length + 16);
                gcm.doFinal(plaintext, 0, plaintext.length, out, ENC_BYTES);
                return out;
            } finally {
                Arrays.fill(key, (byte) 0);
                Arrays.fill(nonce, (byte) 0);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519, HMAC-SHA256 or AES-GCM is unavailable: " + e.getMessage(), e);
        }
    }

    /** 2^255 - 19, the field X25519 works in. */
    private static final BigInteger P = BigInteger.ONE.shiftLeft(255).subtract(BigInteger.valueOf(19));

    /**
     * Whether 32 raw bytes are a canonical X25519 public key (u below 2^255 - 19, the top bit clear) that is not a point
     * of small order (agreement with it gives no all-zero or refused result).
     */
    static boolean isUsableX25519(byte[] raw) {
        if (raw.length != 32 || (raw[31] & 0x80) != 0) {
            return false;
        }
        byte[] be = new byte[32];
        for (int i = 0; i < 32; i++) {
            be[i] = raw[31 - i];
        }
        if (new BigInteger(1, be).compareTo(P) >= 0) {
            return false;
        }
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("X25519");
            KeyAgreement ka = KeyAgreement.getInstance("X25519");
            ka.init(g.generateKeyPair().getPrivate());
            ka.doPhase(x25519(raw), true);
            byte[] shared = ka.generateSecret();
            Arrays.fill(shared, (byte) 0);
            return true;
        } catch (java.security.InvalidKeyException | IllegalStateException e) {
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 is unavailable: " + e.getMessage(), e);
        }
    }

    /** The 32 raw bytes of an X25519 public key in SubjectPublicKeyInfo form, or null if it is not one. */
    static byte @Nullable [] rawFromSpki(byte[] spki) {
        if (spki.length != X25519_SPKI_PREFIX.length + 32
                || !Arrays.equals(Arrays.copyOf(spki, X25519_SPKI_PREFIX.length), X25519_SPKI_PREFIX)) {
            return null;
        }
        return Arrays.copyOfRange(spki, X25519_SPKI_PREFIX.length, spki.length);
    }

    /** The SubjectPublicKeyInfo of 32 raw X25519 public key bytes. */
    public static byte[] spkiFromRaw(byte[] raw) {
        if (raw.length != 32) {
            throw new IllegalArgumentException("an X25519 public key has 32 bytes, not " + raw.length);
        }
        return concat(X25519_SPKI_PREFIX, raw);
    }

    private static PublicKey x25519(byte[] raw) throws GeneralSecurityException {
        return KeyFactory.getInstance("X25519").generatePublic(new X509EncodedKeySpec(spkiFromRaw(raw)));
    }

    /** RFC 7748's encoding of u: 32 bytes, little-endian. */
    private static byte[] rawX25519(XECPublicKey key) {
        byte[] be = key.getU().toByteArray();
        byte[] le = new byte[32];
        for (int i = 0; i < le.length && i < be.length; i++) {
            le[i] = be[be.length - 1 - i];
        }
        if (key.getU().compareTo(BigInteger.ONE.shiftLeft(255)) >= 0) {
            throw new IllegalStateException("X25519 public key out of range");
        }
        return le;
    }

    private static byte[] labeledExtract(byte[] suite, byte[] salt, byte[] label, byte[] ikm)
            throws GeneralSecurityException {
        Mac mac = Mac.getInstance("HmacSHA256");
        // RFC 5869: an absent salt is HashLen zero bytes (HMAC pads a key with zeros anyway; JCE refuses an empty one)
        mac.init(new SecretKeySpec(salt.length == 0 ? new byte[NH] : salt, "HmacSHA256"));
        mac.update(VERSION_LABEL);
        mac.update(suite);
        mac.update(label);
        mac.update(ikm);
        return mac.doFinal();
    }

    private static byte[] labeledExpand(byte[] suite, byte[] prk, byte[] label, byte[] info, int length)
            throws GeneralSecurityException {
        byte[] labeledInfo =
                concat(new byte[] {(byte) (length >>> 8), (byte) length}, VERSION_LABEL, suite, label, info);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(prk, "HmacSHA256"));
        byte[] out = new byte[length];
        byte[] t = new byte[0];
        for (int done = 0, i = 1; done < length; i++) {
            mac.update(t);
            mac.update(labeledInfo);
            mac.update((byte) i);
            t = mac.doFinal();
            int n = Math.min(t.length, length - done);
            System.arraycopy(t, 0, out, done, n);
            done += n;
        }
        return out;
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
