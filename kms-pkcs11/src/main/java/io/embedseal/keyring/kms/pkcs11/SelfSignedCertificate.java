package io.embedseal.keyring.kms.pkcs11;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;

/**
 * The smallest X.509 certificate SunPKCS11's key store needs to hold a key pair: a v1 certificate (RFC 5280, no
 * extensions) whose subject and issuer are {@code CN=<key name>}, for the key pair's public key, self-signed with
 * ECDSA SHA-256 by the private key inside the token. It certifies nothing: it only carries the public key and ties
 * the private key object to its alias ({@code CKA_LABEL} and {@code CKA_ID}). The DER is written here, as the JDK
 * has no public API for it and embedseal takes no dependency for it.
 */
final class SelfSignedCertificate {

    /** AlgorithmIdentifier of ecdsa-with-SHA256 (1.2.840.10045.4.3.2), without parameters (RFC 5758). */
    private static final byte[] ECDSA_WITH_SHA256 = {
        0x30, 0x0a, 0x06, 0x08, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x04, 0x03, 0x02
    };
    /** The attribute type commonName (2.5.4.3). */
    private static final byte[] COMMON_NAME = {0x06, 0x03, 0x55, 0x04, 0x03};
    /** notAfter of a certificate with no well-defined expiration date (RFC 5280, 4.1.2.5). */
    private static final String NO_EXPIRY = "99991231235959Z";

    private static final int SEQUENCE = 0x30;
    private static final int SET = 0x31;
    private static final int INTEGER = 0x02;
    private static final int BIT_STRING = 0x03;
    private static final int UTF8_STRING = 0x0c;
    private static final int UTC_TIME = 0x17;
    private static final int GENERALIZED_TIME = 0x18;

    private SelfSignedCertificate() {}

    /**
     * A certificate for {@code publicKey}, signed with {@code SHA256withECDSA} of {@code provider} by {@code
     * privateKey}, valid from {@code now} on, and checked against its own public key once parsed.
     */
    static X509Certificate create(
            String commonName,
            PublicKey publicKey,
            PrivateKey privateKey,
            Provider provider,
            SecureRandom random,
            Instant now)
            throws GeneralSecurityException {
        Signature signer = Signature.getInstance("SHA256withECDSA", provider);
        signer.initSign(privateKey);
        return create(commonName, publicKey, signer, publicKey, random, now);
    }

    /**
     * A certificate for {@code publicKey} signed by a software key pair {@code issuer} (EC P-256): for a key pair in
     * the token that may not sign (a public-key KEK's, which decrypts and nothing else). Issuer and subject are both
     * {@code CN=<commonName>}; the certificate is checked against the issuer's public key.
     */
    static X509Certificate create(
            String commonName, PublicKey publicKey, KeyPair issuer, SecureRandom random, Instant now)
            throws GeneralSecurityException {
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(issuer.getPrivate(), random);
        return create(commonName, publicKey, signer, issuer.getPublic(), random, now);
    }

    private static X509Certificate create(
            String commonName,
            PublicKey publicKey,
            Signature signer,
            PublicKey verifier,
            SecureRandom random,
            Instant now)
            throws GeneralSecurityException {
        byte[] serial = new byte[16];
        random.nextBytes(serial);
        serial[0] = (byte) ((serial[0] & 0x7f) | 0x40); // positive, nonzero, 16 bytes
        byte[] name = tlv(
                SEQUENCE,
                tlv(SET, tlv(SEQUENCE, COMMON_NAME, tlv(UTF8_STRING, commonName.getBytes(StandardCharsets.UTF_8)))));
        byte[] tbs = tlv(
                SEQUENCE,
                tlv(INTEGER, new BigInteger(serial).toByteArray()),
                ECDSA_WITH_SHA256,
                name,
                tlv(SEQUENCE, time(now), tlv(GENERALIZED_TIME, NO_EXPIRY.getBytes(StandardCharsets.US_ASCII))),
                name,
                publicKey.getEncoded());

        signer.update(tbs);
        byte[] signature = signer.sign();
        byte[] bits = new byte[signature.length + 1]; // no unused bits
        System.arraycopy(signature, 0, bits, 1, signature.length);

        byte[] der = tlv(SEQUENCE, tbs, ECDSA_WITH_SHA256, tlv(BIT_STRING, bits));
        X509Certificate cert = (X509Certificate)
                CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
        cert.verify(verifier);
        return cert;
    }

    /** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280, 4.1.2.5), to the second. */
    private static byte[] time(Instant now) {
        ZonedDateTime t = now.atZone(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS);
        boolean utc = t.getYear() >= 1950 && t.getYear() < 2050;
        String text = t.format(DateTimeFormatter.ofPattern(utc ? "yyMMddHHmmss'Z'" : "yyyyMMddHHmmss'Z'"));
        return tlv(utc ? UTC_TIME : GENERALIZED_TIME, text.getBytes(StandardCharsets.US_ASCII));
    }

    /** One DER element: tag, definite length, and the contents given in order. */
    private static byte[] tlv(int tag, byte[]... contents) {
        int length = 0;
        for (byte[] c : contents) {
            length += c.length;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(length + 6);
        out.write(tag);
        if (length < 0x80) {
            out.write(length);
        } else if (length < 0x100) {
            out.write(0x81);
            out.write(length);
        } else if (length < 0x10000) {
            out.write(0x82);
            out.write(length >> 8);
            out.write(length);
        } else {
            throw new IllegalArgumentException("DER element of " + length + " bytes is beyond this encoder");
        }
        for (byte[] c : contents) {
            out.write(c, 0, c.length);
        }
        return out.toByteArray();
    }
}
