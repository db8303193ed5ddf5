package io.embedseal.keyring.kms.pkcs11;

import io.embedseal.keyring.kms.ImportParameters;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.spec.RSAPublicKeySpec;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Key import into a PKCS#11 token by unwrapping inside it ({@code C_UnwrapKey}), so the key material exists in clear
 * only inside the token: the RSA part with the token's transport key ({@code CKM_RSA_PKCS_OAEP}, SHA-1: SoftHSM 2.6
 * offers OAEP with SHA-1 only) into a one-use session key, then the material with that key ({@code
 * CKM_AES_KEY_WRAP_PAD}, RFC 5649) into a sensitive, non-extractable token object labelled {@code <key>.v1}; the session
 * key is destroyed. The transport key is an RSA-3072 pair generated in the token on first use, labelled {@code
 * embedseal-import-transport}, whose private key may unwrap and do nothing else.
 *
 * <p>SunPKCS11 offers none of this (no OAEP, no AES key wrap on JDK 17, no templates for unwrapped keys), so it calls
 * the token through the JDK's own PKCS#11 wrapper, which the JVM must export: {@code --add-exports
 * jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED} (the embedseal jar's manifest carries it). Symmetric KEKs
 * only: an RSA key pair would also need its certificate stored beside it for SunPKCS11's key store.
 */
final class TokenKeyImport {

    static final String TRANSPORT_LABEL = "embedseal-import-transport";
    private static final String PKG = "sun.security.pkcs11.wrapper.";

    private static final long CKO_PUBLIC_KEY = 2;
    private static final long CKO_PRIVATE_KEY = 3;
    private static final long CKO_SECRET_KEY = 4;
    private static final long CKK_AES = 0x1F;
    private static final long CKK_RSA = 0;
    private static final long CKO_CERTIFICATE = 1;
    private static final long CKC_X_509 = 0;
    private static final long CKA_CERTIFICATE_TYPE = 0x80;
    private static final long CKA_VALUE = 0x11;
    private static final long CKA_SUBJECT = 0x101;
    private static final long CKA_ID = 0x102;
    /** The RSA part's length: the transport key is RSA-3072. */
    private static final int TRANSPORT_BYTES = 3072 / 8;

    private static final long CKA_CLASS = 0;
    private static final long CKA_TOKEN = 1;
    private static final long CKA_PRIVATE = 2;
    private static final long CKA_LABEL = 3;
    private static final long CKA_KEY_TYPE = 0x100;
    private static final long CKA_SENSITIVE = 0x103;
    private static final long CKA_ENCRYPT = 0x104;
    private static final long CKA_DECRYPT = 0x105;
    private static final long CKA_WRAP = 0x106;
    private static final long CKA_UNWRAP = 0x107;
    private static final long CKA_SIGN = 0x108;
    private static final long CKA_VERIFY = 0x10A;
    private static final long CKA_DERIVE = 0x10C;
    private static final long CKA_MODULUS = 0x120;
    private static final long CKA_MODULUS_BITS = 0x121;
    private static final long CKA_PUBLIC_EXPONENT = 0x122;
    private static final long CKA_EXTRACTABLE = 0x162;
    private static final long CKM_RSA_PKCS_KEY_PAIR_GEN = 0;
    private static final long CKM_RSA_PKCS_OAEP = 9;
    private static final long CKM_SHA_1 = 0x220;
    private static final long CKG_MGF1_SHA1 = 1;
    private static final long CKZ_DATA_SPECIFIED = 1;
    private static final long CKM_AES_KEY_WRAP_PAD = 0x210A;
    private static final long CKU_USER = 1;
    private static final long CKF_RW_SERIAL = 0x2 | 0x4;

    private final String library;
    private final Pkcs11Kms.Pkcs11Settings settings;

    TokenKeyImport(Pkcs11Kms.Pkcs11Settings settings) {
        this.settings = settings;
        this.library = settings.libraryPath();
    }

    /**
     * The transport public key (X.509) for importing {@code keyName}, generating the pair in the token on first use: one
     * pair per key to import, labelled {@code embedseal-import-transport.<key>}, destroyed once the import is done. The
     * public key is read from the private key object (its modulus and exponent), never from a public key object, which
     * anyone may add to a token without its PIN.
     */
    byte[] transportKey(String keyName) {
        return inSession((p11, session) -> {
            String label = transportLabel(keyName);
            long[] found = find(p11, session, CKO_PRIVATE_KEY, label);
            if (found.length > 1) {
                throw new KmsException("the PKCS#11 token holds " + found.length + " private keys labelled '" + label
                        + "'; remove them with the HSM's tools");
            }
            long priv = found.length == 1 ? found[0] : generateTransportPair(p11, session, label);
            Object attrs = attributes(attr(CKA_MODULUS), attr(CKA_PUBLIC_EXPONENT));
            call(p11, "C_GetAttributeValue", session, priv, attrs);
            BigInteger n = (BigInteger) invoke(Array.get(attrs, 0), "getBigInteger");
            BigInteger e = (BigInteger) invoke(Array.get(attrs, 1), "getBigInteger");
            return KeyFactory.getInstance("RSA")
                    .generatePublic(new RSAPublicKeySpec(n, e))
                    .getEncoded();
        });
    }

    /** Destroys the transport pair of {@code keyName}'s import, once the import is done. */
    void destroyTransportKey(String keyName) {
        Boolean unused = inSession((p11, session) -> {
            String label = transportLabel(keyName);
            for (long objectClass : new long[] {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
                for (long handle : find(p11, session, objectClass, label)) {
                    call(p11, "C_DestroyObject", session, handle);
                }
            }
            return Boolean.TRUE;
        });
    }

    static String transportLabel(String keyName) {
        return TRANSPORT_LABEL + "." + keyName;
    }

    /** Unwraps the material into a token object labelled {@code label}; the key exists in clear only in the token. */
    void importAes(String keyName, String label, byte[] wrapped) {
        // AES-KWP of 32 bytes is 40 bytes; of a 16- or 24-byte (AES-128/192) key 24 or 32: refused before the token.
        if (wrapped.length != TRANSPORT_BYTES + 40) {
            throw new InvalidWrappedKeyException("wrapped key material of " + wrapped.length + " bytes is no AES-256 "
                    + "key wrapped for this token (" + (TRANSPORT_BYTES + 40) + " bytes)");
        }
        Boolean unused = inSession((p11, session) -> {
            long oneUse = unwrapOneUseKey(p11, session, transportLabel(keyName), wrapped);
            try {
                call(
                        p11,
                        "C_UnwrapKey",
                        session,
                        mechanism(CKM_AES_KEY_WRAP_PAD),
                        oneUse,
                        Arrays.copyOfRange(wrapped, TRANSPORT_BYTES, wrapped.length),
                        attributes(
                                attr(CKA_CLASS, CKO_SECRET_KEY),
                                attr(CKA_KEY_TYPE, CKK_AES),
                                attr(CKA_TOKEN, true),
                                attr(CKA_PRIVATE, true),
                                attr(CKA_SENSITIVE, true),
                                attr(CKA_EXTRACTABLE, false),
                                attr(CKA_ENCRYPT, true),
                                attr(CKA_DECRYPT, true),
                                attr(CKA_WRAP, false),
                                attr(CKA_UNWRAP, false),
                                attr(CKA_SIGN, false),
                                attr(CKA_VERIFY, false),
                                attr(CKA_DERIVE, false),
                                attr(CKA_LABEL, label.toCharArray())));
            } catch (TokenError e) {
                throw new InvalidWrappedKeyException(
                        "the key material does not unwrap into an AES-256 key (" + e.getMessage() + ")");
            } finally {
                call(p11, "C_DestroyObject", session, oneUse);
            }
            return Boolean.TRUE;
        });
    }

    /**
     * Unwraps an RSA private key (PKCS#8) into a token object labelled {@code label} that may decrypt and nothing else,
     * and stores beside it the certificate SunPKCS11's key store needs (the public key read from the new object, signed
     * by a one-use software key), both with {@code CKA_ID} = the label. Returns the public key (X.509) as the token
     * reports it.
     */
    byte[] importRsa(String keyName, String label, byte[] wrapped) {
        return inSession((p11, session) -> {
            long oneUse = unwrapOneUseKey(p11, session, transportLabel(keyName), wrapped);
            long privateKey;
            byte[] id = label.getBytes(StandardCharsets.UTF_8);
            try {
                privateKey = (long) call(
                        p11,
                        "C_UnwrapKey",
                        session,
                        mechanism(CKM_AES_KEY_WRAP_PAD),
                        oneUse,
                        Arrays.copyOfRange(wrapped, TRANSPORT_BYTES, wrapped.length),
                        attributes(
                                attr(CKA_CLASS, CKO_PRIVATE_KEY),
                                attr(CKA_KEY_TYPE, CKK_RSA),
                                attr(CKA_TOKEN, true),
                                attr(CKA_PRIVATE, true),
                                attr(CKA_SENSITIVE, true),
                                attr(CKA_EXTRACTABLE, false),
                                attr(CKA_DECRYPT, true),
                                attr(CKA_SIGN, false),
                                attr(CKA_UNWRAP, false),
                                attr(CKA_DERIVE, false),
                                attr(CKA_ID, id),
                                attr(CKA_LABEL, label.toCharArray())));
            } catch (TokenError e) {
                throw new InvalidWrappedKeyException(
                        "the key material does not unwrap into an RSA private key (" + e.getMessage() + ")");
            } finally {
                call(p11, "C_DestroyObject", session, oneUse);
            }
            try {
                Object attrs = attributes(attr(CKA_MODULUS), attr(CKA_PUBLIC_EXPONENT));
                call(p11, "C_GetAttributeValue", session, privateKey, attrs);
                BigInteger n = (BigInteger) invoke(Array.get(attrs, 0), "getBigInteger");
                BigInteger e = (BigInteger) invoke(Array.get(attrs, 1), "getBigInteger");
                if (n.bitLength() != 3072) {
                    throw new InvalidWrappedKeyException(
                            "the imported RSA key has " + n.bitLength() + " bits; a public-key KEK here is RSA-3072");
                }
                java.security.PublicKey publicKey =
                        KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(n, e));
                java.security.KeyPairGenerator issuerKeys = java.security.KeyPairGenerator.getInstance("EC");
                issuerKeys.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
                java.security.cert.X509Certificate cert = SelfSignedCertificate.create(
                        label,
                        publicKey,
                        issuerKeys.generateKeyPair(),
                        new java.security.SecureRandom(),
                        java.time.Instant.now());
                call(
                        p11,
                        "C_CreateObject",
                        session,
                        attributes(
                                attr(CKA_CLASS, CKO_CERTIFICATE),
                                attr(CKA_CERTIFICATE_TYPE, CKC_X_509),
                                attr(CKA_TOKEN, true),
                                attr(CKA_PRIVATE, false),
                                attr(CKA_LABEL, label.toCharArray()),
                                attr(CKA_ID, id),
                                attr(CKA_SUBJECT, cert.getSubjectX500Principal().getEncoded()),
                                attr(CKA_VALUE, cert.getEncoded())));
                return publicKey.getEncoded();
            } catch (Exception e) {
                call(p11, "C_DestroyObject", session, privateKey); // no half-imported key left behind
                throw e;
            }
        });
    }

    /** The one-use AES key, unwrapped from the RSA part with the transport key: a session object, sensitive. */
    private static long unwrapOneUseKey(Object p11, long session, String transportLabel, byte[] wrapped)
            throws Exception {
        long[] transport = find(p11, session, CKO_PRIVATE_KEY, transportLabel);
        if (transport.length != 1) {
            throw new KmsException("the PKCS#11 token has no single transport key '" + transportLabel
                    + "' (run 'keys import-params' for this key first, which makes it)");
        }
        if (wrapped.length <= TRANSPORT_BYTES + 8) {
            throw new InvalidWrappedKeyException("wrapped key material of " + wrapped.length + " bytes is too short");
        }
        Object oaep =
                Class.forName(PKG + "CK_RSA_PKCS_OAEP_PARAMS").getConstructor().newInstance();
        oaep.getClass().getField("hashAlg").setLong(oaep, CKM_SHA_1);
        oaep.getClass().getField("mgf").setLong(oaep, CKG_MGF1_SHA1);
        oaep.getClass().getField("source").setLong(oaep, CKZ_DATA_SPECIFIED);
        oaep.getClass().getField("pSourceData").set(oaep, null); // no label: SoftHSM refuses an empty one
        Object rsa = mechanism(CKM_RSA_PKCS_OAEP);
        rsa.getClass().getField("pParameter").set(rsa, oaep);
        try {
            return (long) call(
                    p11,
                    "C_UnwrapKey",
                    session,
                    rsa,
                    transport[0],
                    Arrays.copyOf(wrapped, TRANSPORT_BYTES),
                    attributes(
                            attr(CKA_CLASS, CKO_SECRET_KEY),
                            attr(CKA_KEY_TYPE, CKK_AES),
                            attr(CKA_TOKEN, false),
                            attr(CKA_SENSITIVE, true),
                            attr(CKA_EXTRACTABLE, false),
                            attr(CKA_UNWRAP, true),
                            attr(CKA_WRAP, false),
                            attr(CKA_ENCRYPT, false),
                            attr(CKA_DECRYPT, false)));
        } catch (TokenError e) {
            throw new InvalidWrappedKeyException(
                    "the token's transport key does not open the wrapped key material (" + e.getMessage() + ")");
        }
    }

    private long generateTransportPair(Object p11, long session, String transportLabel) throws Exception {
        char[] label = transportLabel.toCharArray();
        long[] pair = (long[]) call(
                p11,
                "C_GenerateKeyPair",
                session,
                mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN),
                attributes(
                        attr(CKA_TOKEN, true),
                        attr(CKA_MODULUS_BITS, 3072L),
                        attr(CKA_PUBLIC_EXPONENT, new byte[] {1, 0, 1}),
                        attr(CKA_WRAP, true),
                        attr(CKA_ENCRYPT, false),
                        attr(CKA_VERIFY, false),
                        attr(CKA_LABEL, label)),
                attributes(
                        attr(CKA_TOKEN, true),
                        attr(CKA_PRIVATE, true),
                        attr(CKA_SENSITIVE, true),
                        attr(CKA_EXTRACTABLE, false),
                        attr(CKA_UNWRAP, true),
                        attr(CKA_DECRYPT, false),
                        attr(CKA_SIGN, false),
                        attr(CKA_DERIVE, false),
                        attr(CKA_LABEL, label)));
        return pair[1]; // {public, private}
    }

    // --- the JDK's PKCS#11 wrapper, by reflection (an exported, not an open, package) -----------------

    @FunctionalInterface
    private interface SessionWork<T> {
        T run(Object p11, long session) throws Exception;
    }

    /** A PKCS#11 function's failure, by its CKR_ name. */
    private static final class TokenError extends Exception {
        TokenError(String message) {
            super(message);
        }
    }

    private <T> T inSession(SessionWork<T> work) {
        Object p11;
        long session;
        try {
            Class<?> cls = Class.forName(PKG + "PKCS11");
            Class<?> initArgs = Class.forName(PKG + "CK_C_INITIALIZE_ARGS");
            p11 = cls.getMethod("getInstance", String.class, String.class, initArgs, boolean.class)
                    .invoke(null, library, "C_GetFunctionList", null, false);
            long slot = settings.slotId(s -> {
                try {
                    return (long[]) call(p11, "C_GetSlotList", true);
                } catch (Exception e) {
                    throw new KmsUnavailableException("PKCS#11 token: cannot list slots: " + e.getMessage(), e);
                }
            });
            session = (long) call(p11, "C_OpenSession", slot, CKF_RW_SERIAL, null, null);
        } catch (IllegalAccessException | IllegalAccessError e) {
            throw new KmsException(
                    "key import into a PKCS#11 token needs the JDK's PKCS#11 wrapper: run the JVM with "
                            + "--add-exports jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED",
                    e);
        } catch (KmsException e) {
            throw e;
        } catch (Exception e) {
            throw new KmsUnavailableException("PKCS#11 token: cannot open a session for key import: " + e, e);
        }
        try {
            char[] pin = settings.pin();
            try {
                call(p11, "C_Login", session, CKU_USER, pin);
            } catch (TokenError e) {
                if (!String.valueOf(e.getMessage()).contains("CKR_USER_ALREADY_LOGGED_IN")) {
                    throw e;
                }
            } finally {
                Arrays.fill(pin, '\0');
            }
            return work.run(p11, session);
        } catch (KmsException e) {
            throw e;
        } catch (TokenError e) {
            throw new KmsException("PKCS#11 token refused the key import: " + e.getMessage());
        } catch (Exception e) {
            throw new KmsUnavailableException("PKCS#11 token failed during key import: " + e, e);
        } finally {
            try {
                call(p11, "C_CloseSession", session);
            } catch (Exception ignored) {
                // the session goes with the process
            }
        }
    }

    private static long[] find(Object p11, long session, long objectClass, String label) throws Exception {
        call(
                p11,
                "C_FindObjectsInit",
                session,
                attributes(attr(CKA_CLASS, objectClass), attr(CKA_LABEL, label.toCharArray())));
        try {
            return (long[]) call(p11, "C_FindObjects", session, 16L);
        } finally {
            call(p11, "C_FindObjectsFinal", session);
        }
    }

    private static Object mechanism(long mechanism) throws Exception {
        return Class.forName(PKG + "CK_MECHANISM").getConstructor(long.class).newInstance(mechanism);
    }

    private static Object attr(long type) throws Exception {
        return Class.forName(PKG + "CK_ATTRIBUTE").getConstructor(long.class).newInstance(type);
    }

    private static Object attr(long type, boolean value) throws Exception {
        return Class.forName(PKG + "CK_ATTRIBUTE")
                .getConstructor(long.class, boolean.class)
                .newInstance(type, value);
    }

    private static Object attr(long type, long value) throws Exception {
        return Class.forName(PKG + "CK_ATTRIBUTE")
                .getConstructor(long.class, long.class)
                .newInstance(type, value);
    }

    private static Object attr(long type, Object value) throws Exception {
        return Class.forName(PKG + "CK_ATTRIBUTE")
                .getConstructor(long.class, Object.class)
                .newInstance(type, value);
    }

    private static Object attributes(Object... attrs) throws Exception {
        Object array = Array.newInstance(Class.forName(PKG + "CK_ATTRIBUTE"), attrs.length);
        for (int i = 0; i < attrs.length; i++) {
            Array.set(array, i, attrs[i]);
        }
        return array;
    }

    private static Object invoke(Object target, String method) throws Exception {
        return target.getClass().getMethod(method).invoke(target);
    }

    /** Calls the PKCS#11 function of that name, whose parameter types are found by name and count. */
    private static Object call(Object p11, String function, @Nullable Object... args) throws Exception {
        for (java.lang.reflect.Method m : p11.getClass().getMethods()) {
            if (m.getName().equals(function) && m.getParameterCount() == args.length) {
                try {
                    return m.invoke(p11, args);
                } catch (InvocationTargetException e) {
                    Throwable cause = e.getCause();
                    if (cause != null && cause.getClass().getName().equals(PKG + "PKCS11Exception")) {
                        throw new TokenError(String.valueOf(cause.getMessage()));
                    }
                    throw e;
                }
            }
        }
        throw new NoSuchMethodException(function);
    }

    @Override
    public String toString() {
        return "TokenKeyImport[" + TRANSPORT_LABEL + ".*]";
    }

    /** For messages: what a KEK version's label would be. */
    static String label(KekRef kek) {
        return kek.keyName() + ".v" + kek.version();
    }

    static ImportParameters.Wrapping wrapping() {
        return ImportParameters.Wrapping.RSA_OAEP_SHA1_AES_KWP;
    }
}
