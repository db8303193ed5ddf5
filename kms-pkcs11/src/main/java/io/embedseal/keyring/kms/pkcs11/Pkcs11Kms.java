package io.embedseal.keyring.kms.pkcs11;

import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.RsaKeyWrap;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.UnsupportedKmsOperationException;
import io.embedseal.keyring.kms.WrappedDek;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.ProviderException;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Security;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PKCS#11 token (an HSM; SoftHSM2 in tests) through the JDK's SunPKCS11 provider. Each KEK version is a
 * non-extractable, sensitive AES-256 secret key object in the token, labelled {@code <keyName>.v<N>}. A DEK is
 * wrapped by AES-GCM encryption inside the token with the associated data; the wrapped form is
 * {@code nonce(12) || ciphertext(32) || tag(16)}. (The token's AES key-wrap mechanisms are not usable through
 * SunPKCS11 with SoftHSM2, and GCM also authenticates the associated data, which key-wrap would not.)
 *
 * <p>SunPKCS11 cannot change a key object's attributes, so {@link #disable}, {@link #enable} and
 * {@link #restrictVersions} throw {@link UnsupportedKmsOperationException}; use the HSM's own tools.
 * {@link #destroy} deletes every version's object (C_DestroyObject).
 *
 * <p><b>Public-key KEKs</b> ({@link KekKind#PUBLIC_KEY}): each version is an RSA-3072 key pair generated in the
 * token, the private key a sensitive, non-extractable token object that may decrypt and nothing else, stored (as
 * SunPKCS11's key store requires) beside a certificate that carries the public key, under the same label
 * {@code <keyName>.v<N>}. Data keys are wrapped with the public key outside the token ({@link RsaKeyWrap}); to unwrap,
 * the token decrypts the RSA part with raw RSA ({@code CKM_RSA_X_509}) and the OAEP-SHA256 decoding is done here
 * ({@link RsaKeyWrap#oaepDecode}): SunPKCS11 offers no OAEP on JDK 17, and SoftHSM 2.6 does OAEP with SHA-1 only
 * (CKR_ARGUMENTS_BAD for SHA-256). The private key never leaves the token; what leaves it is the encoded one-use key the
 * unwrap is for. A token configured to refuse raw RSA refuses these unwraps (docs/key-management.md).
 *
 * <p>{@link #signingKeys} are ECDSA P-256 key pairs generated in the token: the private key a sensitive,
 * non-extractable token object that signs ({@code SHA256withECDSA}) inside the token, the public key carried by a
 * self-signed certificate, both under the alias {@code <keyName>} (see {@link TokenSigningKeys}).
 */
public final class Pkcs11Kms implements KmsProvider {

    /** The provider name under which this KMS is configured and which appears in its KEK references. */
    public static final String PROVIDER = "pkcs11";

    private static final Logger LOG = LoggerFactory.getLogger(Pkcs11Kms.class);
    private static final String VERSION_MARK = ".v";
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    /** The curve of signing keys (P-256). */
    private static final String SIGNING_CURVE = "secp256r1";
    /** How signing keys sign: DER signatures, as {@link SigningKeys} documents. */
    private static final String SIGNING_ALGORITHM = "SHA256withECDSA";
    /** The size of public-key KEKs' RSA key pairs. */
    private static final int RSA_KEK_BITS = 3072;

    private static final ECParameterSpec P256 = p256();
    private static final Set<KmsOperation> SUPPORTED =
            EnumSet.complementOf(EnumSet.of(KmsOperation.DISABLE, KmsOperation.ENABLE, KmsOperation.RESTRICT));

    private final Pkcs11Settings settings;
    private final Provider provider;
    private final KeyStore keyStore;
    private final SecureRandom random = new SecureRandom();
    private static final long MIN_RELOAD_INTERVAL_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);
    /** When the key store last listed the token again; guarded by {@code keyStore}. */
    private long lastReloadNanos = System.nanoTime() - MIN_RELOAD_INTERVAL_NANOS;

    public Pkcs11Kms(Pkcs11Settings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
        Provider base = Security.getProvider("SunPKCS11");
        if (base == null) {
            throw new KmsException("this JDK has no SunPKCS11 provider; the pkcs11 KMS needs one");
        }
        try {
            this.provider = base.configure(settings.sunPkcs11Config());
        } catch (RuntimeException e) {
            throw new KmsUnavailableException(
                    "cannot load the PKCS#11 module (" + settings + "): " + rootMessage(e), e);
        }
        try {
            this.keyStore = KeyStore.getInstance("PKCS11", provider);
            char[] pin = settings.pin();
            try {
                keyStore.load(null, pin);
            } finally {
                Arrays.fill(pin, '\0');
            }
        } catch (GeneralSecurityException | java.io.IOException | ProviderException e) {
            throw new KmsUnavailableException(
                    "cannot log in to the PKCS#11 token (" + settings + "): " + rootMessage(e), e);
        }
        LOG.info("PKCS#11 KMS ready: {}", settings);
    }

    @Override
    public String provider() {
        return PROVIDER;
    }

    @Override
    public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
        int version = latestVersion(keyName);
        if (version == 0) {
            throw new UnknownKeyException("PKCS#11 token has no KEK named '" + keyName + "'");
        }
        KekRef kek = new KekRef(PROVIDER, keyName, version);
        if (rsaKey(kek) != null) {
            throw new KmsException("key '" + keyName
                    + "' is a public-key KEK: data keys are wrapped with the public key pinned in the tenant's "
                    + "signed key events (the keyring does it, without the KMS), never by the KMS");
        }
        SecretKey key = key(kek);
        byte[] nonce = new byte[NONCE_BYTES];
        random.nextBytes(nonce);
        try {
            Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding", provider);
            gcm.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            gcm.updateAAD(associatedData);
            byte[] sealed = gcm.doFinal(dek);
            byte[] wrapped = Arrays.copyOf(nonce, NONCE_BYTES + sealed.length);
            System.arraycopy(sealed, 0, wrapped, NONCE_BYTES, sealed.length);
            return new WrappedDek(kek, wrapped);
        } catch (ProviderException e) {
            throw forbidden(e, kek, "wrap")
                    ? new KeyDeniedException(
                            "PKCS#11 token does not allow wrapping under " + kek + " (CKA_ENCRYPT is false)", e)
                    : new KmsUnavailableException(
                            "PKCS#11 token failed to wrap under " + kek + ": " + rootMessage(e), e);
        } catch (GeneralSecurityException e) {
            if (forbidden(e, kek, "wrap")) {
                throw new KeyDeniedException(
                        "PKCS#11 token does not allow wrapping under " + kek + " (CKA_ENCRYPT is false)", e);
            }
            throw new KmsException("PKCS#11 token could not wrap under " + kek, e);
        }
    }

    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        if (!PROVIDER.equals(kek.provider())) {
            throw new UnknownKeyException(
                    "KEK " + kek + " belongs to KMS provider '" + kek.provider() + "', not to '" + PROVIDER + "'");
        }
        PrivateKey pair = rsaKey(kek);
        if (pair != null) {
            return RsaKeyWrap.unwrap(wrappedDek, associatedData, c1 -> rawRsaDecrypt(kek, pair, c1));
        }
        SecretKey key = key(kek);
        if (PublicKek.isPublicKeyWrap(wrappedDek)) {
            throw new InvalidWrappedKeyException(
                    "wrapped DEK was made with a public key, but PKCS#11 KEK " + kek + " is an AES key");
        }
        if (wrappedDek.length <= NONCE_BYTES + TAG_BITS / 8) {
            throw new InvalidWrappedKeyException(
                    "wrapped DEK under " + kek + " is too short (" + wrappedDek.length + " bytes)");
        }
        try {
            Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding", provider);
            gcm.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, wrappedDek, 0, NONCE_BYTES));
            gcm.updateAAD(associatedData);
            return gcm.doFinal(wrappedDek, NONCE_BYTES, wrappedDek.length - NONCE_BYTES);
        } catch (AEADBadTagException e) {
            throw new InvalidWrappedKeyException(
                    "wrapped DEK does not open under " + kek + " with the given associated data", e);
        } catch (ProviderException e) {
            if (forbidden(e, kek, "unwrap")) {
                throw new KeyDeniedException(
                        "PKCS#11 token does not allow unwrapping under " + kek + " (CKA_DECRYPT is false)", e);
            }
            // SunPKCS11 reports a failed tag check from some tokens as CKR_ENCRYPTED_DATA_INVALID.
            if (String.valueOf(rootMessage(e)).contains("CKR_ENCRYPTED_DATA_INVALID")) {
                throw new InvalidWrappedKeyException("wrapped DEK does not open under " + kek, e);
            }
            throw new KmsUnavailableException("PKCS#11 token failed to unwrap under " + kek + ": " + rootMessage(e), e);
        } catch (GeneralSecurityException e) {
            if (forbidden(e, kek, "unwrap")) {
                throw new KeyDeniedException(
                        "PKCS#11 token does not allow unwrapping under " + kek + " (CKA_DECRYPT is false)", e);
            }
            throw new InvalidWrappedKeyException(
                    "wrapped DEK does not open under " + kek + ": "
                            + e.getClass().getSimpleName(),
                    e);
        }
    }

    @Override
    public KeyDescription describe(String keyName) {
        Set<Integer> versions = versions(keyName);
        if (versions.isEmpty()) {
            throw new UnknownKeyException("PKCS#11 token has no KEK named '" + keyName + "'");
        }
        int latest = Collections.max(versions);
        return new KeyDescription(PROVIDER, keyName, latest, Collections.min(versions), KeyState.ENABLED);
    }

    @Override
    public KekRef createKek(String keyName) {
        return createKek(keyName, KekKind.SYMMETRIC);
    }

    @Override
    public KekRef createKek(String keyName, KekKind kind) {
        synchronized (keyStore) {
            int latest = latestVersion(keyName);
            if (latest > 0) {
                return new KekRef(PROVIDER, keyName, latest);
            }
            return kind == KekKind.PUBLIC_KEY ? generateRsa(keyName, 1) : generate(keyName, 1);
        }
    }

    /** The public key of an RSA KEK version, from its certificate; null for an AES KEK. */
    @Override
    public @Nullable PublicKek publicKek(String keyName, int version) {
        KekRef kek = new KekRef(PROVIDER, keyName, version);
        if (rsaKey(kek) == null) {
            key(kek); // an AES KEK version, or UnknownKeyException
            return null;
        }
        return publicKek(kek);
    }

    private PublicKek publicKek(KekRef kek) {
        return PublicKek.of(kek, rsaPublicKey(kek).getEncoded());
    }

    /** The RSA private key of a public-key KEK version, or null when that version is an AES key (or missing). */
    private @Nullable PrivateKey rsaKey(KekRef kek) {
        Key k;
        try {
            synchronized (keyStore) {
                String alias = alias(kek.keyName(), kek.version());
                if (!keyStore.containsAlias(alias)) {
                    reload();
                }
                if (!keyStore.entryInstanceOf(alias, KeyStore.PrivateKeyEntry.class)) {
                    return null;
                }
                k = keyStore.getKey(alias, null);
            }
        } catch (ProviderException e) {
            throw new KmsUnavailableException("PKCS#11 token failed to find " + kek + ": " + rootMessage(e), e);
        } catch (GeneralSecurityException e) {
            throw new KmsException("PKCS#11 token could not find " + kek, e);
        }
        return k instanceof PrivateKey p && "RSA".equals(p.getAlgorithm()) ? p : null;
    }

    /**
     * Raw RSA in the token ({@code CKM_RSA_X_509}), then OAEP-SHA256 decoding here. Every value below the modulus
     * decrypts, so the lengths and range are checked first (the record's fault), and anything the token then refuses is
     * the token's: SunPKCS11 reports every {@code C_Decrypt} failure as a bad padding, a session or device fault
     * included, so it is an outage (retried), never taken for a tampered record.
     */
    private byte[] rawRsaDecrypt(KekRef kek, PrivateKey key, byte[] c1) {
        java.math.BigInteger n = rsaPublicKey(kek).getModulus();
        int k = (n.bitLength() + 7) / 8;
        if (c1.length != k || new java.math.BigInteger(1, c1).compareTo(n) >= 0) {
            throw new InvalidWrappedKeyException(
                    "the RSA part of a wrapped DEK under " + kek + " is not a value below the key's modulus");
        }
        Cipher rsa;
        try {
            rsa = Cipher.getInstance("RSA/ECB/NoPadding", provider);
            rsa.init(Cipher.DECRYPT_MODE, key);
        } catch (GeneralSecurityException | ProviderException e) {
            // C_DecryptInit: a key whose CKA_DECRYPT was cleared (an HSM's revocation) is a denial; a session or
            // device fault an outage; a token that has no raw RSA for this key a fault of the key's configuration.
            if (forbidden(e, kek, "unwrap")) {
                throw new KeyDeniedException(
                        "PKCS#11 token does not allow unwrapping under " + kek + " (CKA_DECRYPT is false)", e);
            }
            if (e instanceof ProviderException) {
                throw new KmsUnavailableException(
                        "PKCS#11 token failed to start decrypting under " + kek + ": " + rootMessage(e), e);
            }
            throw new KmsException(
                    "the PKCS#11 token refuses raw RSA (CKM_RSA_X_509) with " + kek
                            + ", which unwrapping a public-key wrap needs: " + rootMessage(e),
                    e);
        }
        byte[] em;
        try {
            em = rsa.doFinal(c1);
        } catch (GeneralSecurityException | ProviderException e) {
            if (forbidden(e, kek, "unwrap")) {
                throw new KeyDeniedException(
                        "PKCS#11 token does not allow unwrapping under " + kek + " (CKA_DECRYPT is false)", e);
            }
            throw new KmsUnavailableException(
                    "PKCS#11 token failed to decrypt under " + kek + ": " + rootMessage(e), e);
        }
        try {
            return RsaKeyWrap.oaepDecode(em, k);
        } finally {
            Arrays.fill(em, (byte) 0);
        }
    }

    private RSAPublicKey rsaPublicKey(KekRef kek) {
        Certificate cert;
        try {
            synchronized (keyStore) {
                cert = keyStore.getCertificate(alias(kek.keyName(), kek.version()));
            }
        } catch (GeneralSecurityException | ProviderException e) {
            throw new KmsUnavailableException("PKCS#11 token failed to read the public key of " + kek, e);
        }
        if (cert == null || !(cert.getPublicKey() instanceof RSAPublicKey rsa)) {
            throw new UnknownKeyException("PKCS#11 token has no RSA public key for " + kek);
        }
        return rsa;
    }

    @Override
    public KekRef rotate(String keyName) {
        synchronized (keyStore) {
            int latest = latestVersion(keyName);
            if (latest == 0) {
                throw new UnknownKeyException("PKCS#11 token has no KEK named '" + keyName + "' to rotate");
            }
            return rsaKey(new KekRef(PROVIDER, keyName, latest)) != null
                    ? generateRsa(keyName, latest + 1)
                    : generate(keyName, latest + 1);
        }
    }

    @Override
    public void restrictVersions(String keyName, int minDecryptionVersion) {
        throw new UnsupportedKmsOperationException(
                PROVIDER,
                KmsOperation.RESTRICT,
                "SunPKCS11 cannot change key attributes; " + ownerAdvice(KmsOperation.RESTRICT, keyName));
    }

    @Override
    public void disable(String keyName) {
        throw new UnsupportedKmsOperationException(
                PROVIDER,
                KmsOperation.DISABLE,
                "SunPKCS11 cannot change key attributes; " + ownerAdvice(KmsOperation.DISABLE, keyName)
                        + " (embedseal still stops the tenant on a REVOKED key event)");
    }

    @Override
    public void enable(String keyName) {
        throw new UnsupportedKmsOperationException(
                PROVIDER,
                KmsOperation.ENABLE,
                "SunPKCS11 cannot change key attributes; " + ownerAdvice(KmsOperation.ENABLE, keyName));
    }

    /** The token's administrator changes key attributes with the HSM's own tools; SunPKCS11 cannot. */
    @Override
    public String ownerAdvice(KmsOperation operation, String keyName) {
        return switch (operation) {
            case RESTRICT ->
                "the HSM's administrator clears CKA_DECRYPT on the objects labelled " + keyName
                        + ".v1.. below the oldest version to keep, with the HSM's tools, or destroys the key";
            case DISABLE ->
                "the HSM's administrator clears CKA_ENCRYPT and CKA_DECRYPT on the objects labelled " + keyName
                        + ".v* with the HSM's tools";
            case ENABLE ->
                "the HSM's administrator sets CKA_ENCRYPT and CKA_DECRYPT again on the objects labelled " + keyName
                        + ".v* with the HSM's tools";
            default -> KmsProvider.super.ownerAdvice(operation, keyName);
        };
    }

    @Override
    public void destroy(String keyName) {
        synchronized (keyStore) {
            Set<Integer> versions = versions(keyName);
            if (versions.isEmpty()) {
                throw new UnknownKeyException("PKCS#11 token has no KEK named '" + keyName + "'");
            }
            try {
                for (int v : versions) {
                    keyStore.deleteEntry(alias(keyName, v));
                }
            } catch (GeneralSecurityException | ProviderException e) {
                throw new KmsUnavailableException(
                        "PKCS#11 token failed to destroy KEK '" + keyName + "': " + rootMessage(e), e);
            }
        }
        LOG.warn("PKCS#11 KMS destroyed KEK '{}': everything wrapped under it is now unreadable", keyName);
    }

    @Override
    public Set<KmsOperation> supportedOperations() {
        return SUPPORTED;
    }

    // --- key import ----------------------------------------------------------------------------------

    /**
     * Import by unwrapping inside the token ({@link TokenKeyImport}): RSA-OAEP-SHA1 with the token's transport key, then
     * AES key wrap with padding, into a non-extractable {@code <key>.v1}: an AES-256 key, or an RSA-3072 private key
     * (with the certificate SunPKCS11's key store pairs it with).
     */
    @Override
    public Optional<io.embedseal.keyring.kms.KeyImport> keyImport() {
        return Optional.of(new Pkcs11KeyImport());
    }

    private final class Pkcs11KeyImport implements io.embedseal.keyring.kms.KeyImport {
        private final TokenKeyImport token = new TokenKeyImport(settings);

        @Override
        public io.embedseal.keyring.kms.ImportParameters parameters(String keyName, KekKind kind) {
            requireName(keyName);
            return new io.embedseal.keyring.kms.ImportParameters(
                    PROVIDER,
                    keyName,
                    kind,
                    TokenKeyImport.wrapping(),
                    token.transportKey(keyName),
                    kind == KekKind.PUBLIC_KEY
                            ? io.embedseal.keyring.kms.ImportParameters.Material.RSA_3072_PKCS8
                            : io.embedseal.keyring.kms.ImportParameters.Material.AES_256_RAW);
        }

        @Override
        public KekRef importKek(String keyName, KekKind kind, byte[] wrapped) {
            parameters(keyName, kind); // the same refusals, and the transport key exists
            synchronized (keyStore) {
                if (latestVersion(keyName) > 0) {
                    throw new KmsException("the PKCS#11 token already has a key '" + keyName
                            + "'; an import never replaces a key: choose another name");
                }
                KekRef kek = new KekRef(PROVIDER, keyName, 1);
                if (kind == KekKind.PUBLIC_KEY) {
                    token.importRsa(keyName, TokenKeyImport.label(kek), wrapped);
                    token.destroyTransportKey(keyName);
                    lastReloadNanos = System.nanoTime() - MIN_RELOAD_INTERVAL_NANOS; // list the token again now
                    reload();
                    PrivateKey pair = rsaKey(kek);
                    if (pair == null) {
                        throw new KmsException("the PKCS#11 token does not show the imported key pair " + kek
                                + " to SunPKCS11's key store (certificate and key not paired by CKA_ID?)");
                    }
                    if (readable(pair)) {
                        throw new KmsException("the PKCS#11 token made the imported " + kek + " readable");
                    }
                    LOG.info(
                            "PKCS#11 KMS imported public-key KEK {} (non-extractable RSA-3072, unwrapped inside the "
                                    + "token)",
                            kek);
                    return kek;
                }
                token.importAes(keyName, TokenKeyImport.label(kek), wrapped);
                token.destroyTransportKey(keyName);
                lastReloadNanos = System.nanoTime() - MIN_RELOAD_INTERVAL_NANOS; // list the token again now
                SecretKey key = key(kek);
                if (key.getEncoded() != null) {
                    throw new KmsException("the PKCS#11 token made the imported " + kek + " extractable");
                }
                LOG.info("PKCS#11 KMS imported KEK {} (non-extractable AES-256, unwrapped inside the token)", kek);
                return kek;
            }
        }

        /** One version, sensitive and non-extractable, whichever kind. */
        @Override
        public void requireImportedOnly(String keyName) {
            Set<Integer> versions = versions(keyName);
            if (!versions.equals(Set.of(1))) {
                throw new KmsException("PKCS#11 key '" + keyName + "' has versions " + versions
                        + "; only version 1 is the tenant's proven import");
            }
            KekRef kek = new KekRef(PROVIDER, keyName, 1);
            PrivateKey pair = rsaKey(kek);
            if (pair != null ? readable(pair) : key(kek).getEncoded() != null) {
                throw new KmsException("PKCS#11 key " + kek + " is readable (not sensitive, or extractable)");
            }
        }

        /** The token's wrapped form is the nonce, the ciphertext and the tag: the check as it is. */
        @Override
        public byte[] checkAsWrappedDek(KekRef kek, byte[] check) {
            return check.clone();
        }
    }

    // --- signing keys --------------------------------------------------------------------------------

    /** ECDSA P-256 key pairs generated in the token (see {@link TokenSigningKeys}). */
    @Override
    public Optional<SigningKeys> signingKeys() {
        return Optional.of(new TokenSigningKeys());
    }

    /**
     * Signing keys as EC P-256 key pairs of the token. {@link #createSigningKey} generates the pair inside the token
     * ({@code attributes(generate, CKO_PRIVATE_KEY, CKK_EC)}: a sensitive, non-extractable token object that may
     * sign and nothing else) and stores it with a self-signed certificate ({@link SelfSignedCertificate}, signed by
     * the new key inside the token), as SunPKCS11's key store holds a private key only beside a certificate: the
     * certificate's {@code CKA_LABEL} and the shared {@code CKA_ID} are the key's name. {@link #publicKey} reads the
     * certificate's key; {@link #sign} runs {@code SHA256withECDSA} in the token and returns DER. A KEK of the same
     * name, or another object under it, is refused with a {@link KmsException} naming the key.
     */
    private final class TokenSigningKeys implements SigningKeys {

        @Override
        public String provider() {
            return PROVIDER;
        }

        @Override
        public void createSigningKey(String keyName) {
            requireSigningKeyName(keyName);
            synchronized (keyStore) {
                if (signingCertificate(keyName) == null) {
                    generateSigningKey(keyName);
                }
            }
        }

        @Override
        public PublicKey publicKey(String keyName) {
            requireSigningKeyName(keyName);
            return requireSigningCertificate(keyName).getPublicKey();
        }

        @Override
        public byte[] sign(String keyName, byte[] message) {
            requireSigningKeyName(keyName);
            Objects.requireNonNull(message, "message");
            requireSigningCertificate(keyName);
            Key key;
            try {
                synchronized (keyStore) {
                    key = keyStore.getKey(keyName, null);
                }
            } catch (ProviderException e) {
                throw new KmsUnavailableException(
                        "PKCS#11 token failed to find signing key '" + keyName + "': " + rootMessage(e), e);
            } catch (GeneralSecurityException e) {
                throw new KmsException("PKCS#11 token could not find signing key '" + keyName + "'", e);
            }
            if (!(key instanceof PrivateKey privateKey)) {
                throw new UnknownKeyException("PKCS#11 token has no signing key named '" + keyName + "'");
            }
            try {
                Signature signer = Signature.getInstance(SIGNING_ALGORITHM, provider);
                signer.initSign(privateKey);
                signer.update(message);
                return signer.sign();
            } catch (ProviderException e) {
                throw new KmsUnavailableException(
                        "PKCS#11 token failed to sign with '" + keyName + "': " + rootMessage(e), e);
            } catch (GeneralSecurityException e) {
                throw new KmsException("PKCS#11 token could not sign with '" + keyName + "'", e);
            }
        }

        @Override
        public String toString() {
            return "Pkcs11Kms.signingKeys[" + settings + "]";
        }
    }

    /**
     * Generates the key pair in the token and stores it under {@code keyName}; the caller holds the key store. With
     * the generated configuration the private key is a token object from the start (no copy of a session key,
     * which some HSMs refuse for sensitive keys); if storing the certificate fails after that, it stays behind
     * without a {@code CKA_ID}: no alias reaches it, and the HSM's tools can delete it.
     */
    private void generateSigningKey(String keyName) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", provider);
            generator.initialize(new ECGenParameterSpec(SIGNING_CURVE), random);
            KeyPair pair = generator.generateKeyPair();
            X509Certificate cert = SelfSignedCertificate.create(
                    keyName, pair.getPublic(), pair.getPrivate(), provider, random, Instant.now());
            keyStore.setEntry(
                    keyName, new KeyStore.PrivateKeyEntry(pair.getPrivate(), new X509Certificate[] {cert}), null);
            Key stored = keyStore.getKey(keyName, null);
            if (!(stored instanceof PrivateKey)) {
                throw new KmsException("PKCS#11 token did not keep the generated signing key '" + keyName + "'");
            }
            if (readable(stored)) {
                keyStore.deleteEntry(keyName);
                throw new KmsException("the PKCS#11 token made signing key '" + keyName
                        + "' readable (not sensitive, or extractable); refusing it. Configure attributes(generate, "
                        + "CKO_PRIVATE_KEY, CKK_EC) with CKA_TOKEN=true, CKA_SENSITIVE=true and CKA_EXTRACTABLE=false");
            }
            LOG.info("PKCS#11 KMS generated signing key '{}' (non-extractable EC P-256)", keyName);
        } catch (ProviderException e) {
            throw new KmsUnavailableException(
                    "PKCS#11 token failed to generate signing key '" + keyName + "': " + rootMessage(e), e);
        } catch (GeneralSecurityException e) {
            throw new KmsException("PKCS#11 token could not generate signing key '" + keyName + "'", e);
        }
    }

    /**
     * Whether a private key of the token is not both sensitive and non-extractable. SunPKCS11 has no API for a key's
     * attributes: {@code getEncoded()} is null if either holds (SoftHSM2 generates EC keys non-extractable but not
     * sensitive by default, so that alone lets a readable key through), and its keys' descriptions name both
     * ({@code "..., sensitive, unextractable)"}), which is read too.
     */
    private static boolean readable(Key key) {
        if (key.getEncoded() != null) {
            return true;
        }
        String description = String.valueOf(key);
        return description.contains("not sensitive") || description.contains(", extractable");
    }

    private X509Certificate requireSigningCertificate(String keyName) {
        X509Certificate cert = signingCertificate(keyName);
        if (cert == null) {
            throw new UnknownKeyException("PKCS#11 token has no signing key named '" + keyName + "'");
        }
        return cert;
    }

    /** The signing key's certificate, listing the token again if it is missing; null if there is none. */
    private @Nullable X509Certificate signingCertificate(String keyName) {
        X509Certificate cert = findSigningCertificate(keyName);
        if (cert == null) {
            reload(); // the operator's CLI may have created it since this session listed the token
            cert = findSigningCertificate(keyName);
        }
        return cert;
    }

    /**
     * The certificate of the EC P-256 key pair under {@code keyName}, or null if nothing is; a {@link KmsException}
     * naming the key if it is a KEK's name, or names another kind of object.
     */
    private @Nullable X509Certificate findSigningCertificate(String keyName) {
        Certificate cert;
        try {
            synchronized (keyStore) {
                if (!keyStore.containsAlias(keyName)) {
                    if (!listVersions(keyName).isEmpty()) {
                        throw notASigningKey(keyName, "a KEK (AES, objects labelled " + keyName + VERSION_MARK + "N)");
                    }
                    return null;
                }
                if (!keyStore.entryInstanceOf(keyName, KeyStore.PrivateKeyEntry.class)) {
                    throw notASigningKey(
                            keyName,
                            keyStore.entryInstanceOf(keyName, KeyStore.SecretKeyEntry.class)
                                    ? "a secret key"
                                    : "a certificate without a private key");
                }
                cert = keyStore.getCertificate(keyName);
            }
        } catch (ProviderException e) {
            throw new KmsUnavailableException(
                    "PKCS#11 token failed to find signing key '" + keyName + "': " + rootMessage(e), e);
        } catch (GeneralSecurityException e) {
            throw new KmsException("PKCS#11 token could not find signing key '" + keyName + "'", e);
        }
        if (!(cert instanceof X509Certificate x509)) {
            throw notASigningKey(keyName, "a private key without an X.509 certificate");
        }
        if (!(x509.getPublicKey() instanceof ECPublicKey ec) || !isP256(ec.getParams())) {
            throw notASigningKey(keyName, "a " + x509.getPublicKey().getAlgorithm() + " key pair that is not EC P-256");
        }
        return x509;
    }

    private static KmsException notASigningKey(String keyName, String what) {
        return new KmsException("PKCS#11 key '" + keyName + "' is " + what
                + ", not a signing key (the pkcs11 provider signs with EC P-256 key pairs): name another key, or "
                + "create one with createSigningKey");
    }

    private static boolean isP256(ECParameterSpec params) {
        return params.getCurve().equals(P256.getCurve())
                && params.getOrder().equals(P256.getOrder())
                && params.getGenerator().equals(P256.getGenerator())
                && params.getCofactor() == P256.getCofactor();
    }

    private static ECParameterSpec p256() {
        try {
            AlgorithmParameters params = AlgorithmParameters.getInstance("EC");
            params.init(new ECGenParameterSpec(SIGNING_CURVE));
            return params.getParameterSpec(ECParameterSpec.class);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK does not know the curve " + SIGNING_CURVE, e);
        }
    }

    /** Signing key names follow the rule for KEK names ({@link KekRef}: printable ASCII, no spaces, 1-200). */
    private static void requireSigningKeyName(String keyName) {
        try {
            var unused = new KekRef(PROVIDER, keyName, 1);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid signing key name: " + e.getMessage(), e);
        }
    }

    // --- token objects -------------------------------------------------------------------------------

    /**
     * Generates an RSA-3072 key pair in the token for a public-key KEK version and stores it under its label. The
     * certificate SunPKCS11's key store needs is signed by a one-use software key, not by the KEK: the KEK's private
     * key may decrypt and nothing else ({@code CKA_SIGN=false}).
     */
    private KekRef generateRsa(String keyName, int version) {
        String alias = alias(keyName, version);
        try {
            if (keyStore.containsAlias(alias)) {
                throw new KmsException("PKCS#11 token already holds an object labelled '" + alias
                        + "' that is not a KEK version of '" + keyName + "'; not replacing it");
            }
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA", provider);
            generator.initialize(RSA_KEK_BITS, random);
            KeyPair pair = generator.generateKeyPair();
            KeyPairGenerator issuerKeys = KeyPairGenerator.getInstance("EC");
            issuerKeys.initialize(new ECGenParameterSpec(SIGNING_CURVE), random);
            KeyPair issuer = issuerKeys.generateKeyPair();
            X509Certificate cert = SelfSignedCertificate.create(alias, pair.getPublic(), issuer, random, Instant.now());
            keyStore.setEntry(
                    alias, new KeyStore.PrivateKeyEntry(pair.getPrivate(), new X509Certificate[] {cert}), null);
            Key stored = keyStore.getKey(alias, null);
            if (!(stored instanceof PrivateKey)) {
                throw new KmsException("PKCS#11 token did not keep the generated KEK '" + alias + "'");
            }
            if (readable(stored)) {
                keyStore.deleteEntry(alias);
                throw new KmsException("the PKCS#11 token made KEK '" + alias + "' readable (not sensitive, or "
                        + "extractable); refusing it. Configure attributes(generate, CKO_PRIVATE_KEY, CKK_RSA) with "
                        + "CKA_TOKEN=true, CKA_SENSITIVE=true and CKA_EXTRACTABLE=false");
            }
            LOG.info("PKCS#11 KMS generated public-key KEK {} (non-extractable RSA-{})", alias, RSA_KEK_BITS);
            return new KekRef(PROVIDER, keyName, version);
        } catch (ProviderException e) {
            throw new KmsUnavailableException(
                    "PKCS#11 token failed to generate KEK '" + alias + "': " + rootMessage(e), e);
        } catch (GeneralSecurityException e) {
            throw new KmsException("PKCS#11 token could not generate KEK '" + alias + "'", e);
        }
    }

    private KekRef generate(String keyName, int version) {
        String alias = alias(keyName, version);
        try {
            if (keyStore.containsAlias(alias)) {
                // SunPKCS11 would replace it: a signing key named like a KEK version, or a race with another session.
                throw new KmsException("PKCS#11 token already holds an object labelled '" + alias
                        + "' that is not a KEK version of '" + keyName + "'; not replacing it");
            }
            KeyGenerator generator = KeyGenerator.getInstance("AES", provider);
            generator.init(256, random);
            SecretKey sessionKey = generator.generateKey();
            keyStore.setEntry(alias, new KeyStore.SecretKeyEntry(sessionKey), null);
            Key stored = keyStore.getKey(alias, null);
            if (stored == null) {
                throw new KmsException("PKCS#11 token did not keep the generated KEK '" + alias + "'");
            }
            if (stored.getEncoded() != null) {
                keyStore.deleteEntry(alias);
                throw new KmsException(
                        "the PKCS#11 token made KEK '" + alias + "' extractable; refusing it. Configure "
                                + "attributes(generate, CKO_SECRET_KEY, CKK_AES) with CKA_SENSITIVE=true and CKA_EXTRACTABLE=false");
            }
            LOG.info("PKCS#11 KMS generated KEK {} (non-extractable AES-256)", alias);
            return new KekRef(PROVIDER, keyName, version);
        } catch (ProviderException e) {
            throw new KmsUnavailableException(
                    "PKCS#11 token failed to generate KEK '" + alias + "': " + rootMessage(e), e);
        } catch (GeneralSecurityException e) {
            throw new KmsException("PKCS#11 token could not generate KEK '" + alias + "'", e);
        }
    }

    private SecretKey key(KekRef kek) {
        SecretKey key = findKey(kek);
        if (key == null) {
            reload(); // another process (the operator's CLI) may have created it since this session listed the token
            key = findKey(kek);
        }
        if (key == null) {
            throw new UnknownKeyException("PKCS#11 token has no KEK " + kek);
        }
        return key;
    }

    /**
     * Lists the token's objects again. SunPKCS11's key store maps labels to objects when it is loaded, so a key
     * generated by another session after that (the operator's CLI onboarding a tenant) is invisible until then.
     */
    private void reload() {
        synchronized (keyStore) {
            // Threads that missed together share one listing; misses in a burst (a tenant without a key, the readiness
            // probe, a forged KEK reference in an envelope) list the token at most once a second.
            long now = System.nanoTime();
            if (now - lastReloadNanos < MIN_RELOAD_INTERVAL_NANOS) {
                return;
            }
            char[] pin = settings.pin();
            try {
                keyStore.load(null, pin);
            } catch (GeneralSecurityException | java.io.IOException | ProviderException e) {
                throw new KmsUnavailableException(
                        "PKCS#11 token failed to list its keys again (" + settings + "): " + rootMessage(e), e);
            } finally {
                Arrays.fill(pin, '\0');
                lastReloadNanos = System.nanoTime();
            }
        }
    }

    private @Nullable SecretKey findKey(KekRef kek) {
        Key k;
        try {
            synchronized (keyStore) {
                k = keyStore.getKey(alias(kek.keyName(), kek.version()), null);
            }
        } catch (ProviderException e) {
            throw new KmsUnavailableException("PKCS#11 token failed to find " + kek + ": " + rootMessage(e), e);
        } catch (GeneralSecurityException e) {
            throw new KmsException("PKCS#11 token could not find " + kek, e);
        }
        return k instanceof SecretKey secret ? secret : null;
    }

    private int latestVersion(String keyName) {
        Set<Integer> versions = versions(keyName);
        return versions.isEmpty() ? 0 : Collections.max(versions);
    }

    private Set<Integer> versions(String keyName) {
        Set<Integer> versions = listVersions(keyName);
        if (versions.isEmpty()) {
            reload();
            versions = listVersions(keyName);
        }
        return versions;
    }

    private Set<Integer> listVersions(String keyName) {
        String prefix = requireName(keyName) + VERSION_MARK;
        Set<Integer> versions = new TreeSet<>();
        try {
            synchronized (keyStore) {
                for (String alias : Collections.list(keyStore.aliases())) {
                    if (alias.startsWith(prefix)) {
                        String rest = alias.substring(prefix.length());
                        if (!rest.isEmpty()
                                && rest.length() < 10
                                && rest.chars().allMatch(Character::isDigit)
                                // a signing key may be named like a KEK version; it is none
                                && (keyStore.entryInstanceOf(alias, KeyStore.SecretKeyEntry.class)
                                        || isRsaPair(alias))) {
                            versions.add(Integer.parseInt(rest));
                        }
                    }
                }
            }
        } catch (GeneralSecurityException | ProviderException e) {
            throw new KmsUnavailableException("PKCS#11 token failed to list keys: " + rootMessage(e), e);
        }
        return versions;
    }

    /** Whether the alias holds an RSA key pair (a public-key KEK version); the caller holds the key store. */
    private boolean isRsaPair(String alias) throws GeneralSecurityException {
        return keyStore.entryInstanceOf(alias, KeyStore.PrivateKeyEntry.class)
                && keyStore.getCertificate(alias) != null
                && keyStore.getCertificate(alias).getPublicKey() instanceof RSAPublicKey;
    }

    /**
     * Whether the token refused the operation because the key object does not permit it: the documented way to revoke
     * a key in an HSM ({@code CKA_ENCRYPT}/{@code CKA_DECRYPT} cleared), so it is a denial, not an outage.
     */
    private static boolean forbidden(Throwable e, KekRef kek, String what) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains("CKR_KEY_FUNCTION_NOT_PERMITTED")) {
                LOG.debug("PKCS#11 token refuses to {} under {}: CKR_KEY_FUNCTION_NOT_PERMITTED", what, kek);
                return true;
            }
        }
        return false;
    }

    private static String alias(String keyName, int version) {
        return requireName(keyName) + VERSION_MARK + version;
    }

    private static String requireName(String keyName) {
        // Any KekRef key name is acceptable; this only guards the alias format.
        new KekRef(PROVIDER, keyName, 1);
        return keyName;
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
    }

    @Override
    public String toString() {
        return "Pkcs11Kms[" + settings + "]";
    }

    /**
     * How to reach the token: either a SunPKCS11 configuration file, or a module library and a slot, from
     * which a configuration is generated with the attributes embedseal needs. The PIN is held here only;
     * {@link #toString()} never shows it.
     */
    public static final class Pkcs11Settings {
        private final @Nullable Path configFile;
        private final @Nullable String library;
        private final @Nullable Long slot;
        private final @Nullable Integer slotListIndex;
        private final char[] pin;

        private Pkcs11Settings(
                @Nullable Path configFile,
                @Nullable String library,
                @Nullable Long slot,
                @Nullable Integer slotListIndex,
                char[] pin) {
            this.configFile = configFile;
            this.library = library;
            this.slot = slot;
            this.slotListIndex = slotListIndex;
            if (pin == null || pin.length == 0) {
                throw new IllegalArgumentException(
                        "the PKCS#11 PIN is empty; set kms.pkcs11.pin-env or kms.pkcs11.pin-file");
            }
            this.pin = pin.clone();
        }

        /** A SunPKCS11 configuration file written by the operator. */
        public static Pkcs11Settings ofConfigFile(Path configFile, char[] pin) {
            if (!Files.isReadable(configFile)) {
                throw new IllegalArgumentException("kms.pkcs11.config: cannot read " + configFile);
            }
            return new Pkcs11Settings(configFile, null, null, null, pin);
        }

        /** A module library and either a slot id or an index into the list of slots with a token. */
        public static Pkcs11Settings ofLibrary(
                @Nullable String library, @Nullable Long slot, @Nullable Integer slotListIndex, char[] pin) {
            if (library == null || library.isBlank()) {
                throw new IllegalArgumentException("kms.pkcs11.library is empty (or set kms.pkcs11.config)");
            }
            if (slot != null && slotListIndex != null) {
                throw new IllegalArgumentException("set kms.pkcs11.slot or kms.pkcs11.slot-list-index, not both");
            }
            return new Pkcs11Settings(
                    null,
                    library,
                    slot,
                    slotListIndex == null && slot == null ? Integer.valueOf(0) : slotListIndex,
                    pin);
        }

        String sunPkcs11Config() {
            if (configFile != null) {
                return configFile.toString();
            }
            StringBuilder c = new StringBuilder("--name = embedseal\n")
                    .append("library = ")
                    .append(library)
                    .append('\n');
            if (slot != null) {
                c.append("slot = ").append(slot).append('\n');
            } else {
                c.append("slotListIndex = ").append(slotListIndex).append('\n');
            }
            c.append("attributes(generate, CKO_SECRET_KEY, CKK_AES) = {\n")
                    .append("  CKA_SENSITIVE = true\n")
                    .append("  CKA_EXTRACTABLE = false\n")
                    .append("  CKA_ENCRYPT = true\n")
                    .append("  CKA_DECRYPT = true\n")
                    .append("}\n");
            // Signing keys: generated as token objects that sign and do nothing else (the default adds CKA_DERIVE).
            c.append("attributes(generate, CKO_PRIVATE_KEY, CKK_EC) = {\n")
                    .append("  CKA_TOKEN = true\n")
                    .append("  CKA_PRIVATE = true\n")
                    .append("  CKA_SENSITIVE = true\n")
                    .append("  CKA_EXTRACTABLE = false\n")
                    .append("  CKA_SIGN = true\n")
                    .append("  CKA_DERIVE = false\n")
                    .append("}\n");
            // Public-key KEKs: RSA private keys that decrypt and do nothing else, token objects from the start.
            c.append("attributes(generate, CKO_PRIVATE_KEY, CKK_RSA) = {\n")
                    .append("  CKA_TOKEN = true\n")
                    .append("  CKA_PRIVATE = true\n")
                    .append("  CKA_SENSITIVE = true\n")
                    .append("  CKA_EXTRACTABLE = false\n")
                    .append("  CKA_DECRYPT = true\n")
                    .append("  CKA_SIGN = false\n")
                    .append("  CKA_UNWRAP = false\n")
                    .append("}\n");
            return c.toString();
        }

        char[] pin() {
            return pin.clone();
        }

        /** The PKCS#11 module's path: {@code kms.pkcs11.library}, or the {@code library} line of the config file. */
        String libraryPath() {
            if (library != null) {
                return library;
            }
            String value = configValue("library");
            if (value == null) {
                throw new IllegalArgumentException("kms.pkcs11.config " + configFile + " names no library");
            }
            return value;
        }

        /** The slot id: {@code slot}, or the {@code slotListIndex}-th slot with a token (as SunPKCS11 counts). */
        long slotId(java.util.function.Function<Object, long[]> slotsWithToken) {
            Long id = slot;
            Integer index = slotListIndex;
            if (configFile != null) {
                String s = configValue("slot");
                String i = configValue("slotListIndex");
                id = s == null ? null : Long.valueOf(s);
                index = i == null ? (s == null ? Integer.valueOf(0) : null) : Integer.valueOf(i);
            }
            if (id != null) {
                return id;
            }
            long[] slots = slotsWithToken.apply(this);
            int at = index == null ? 0 : index;
            if (at >= slots.length) {
                throw new IllegalArgumentException(
                        "PKCS#11 slot list index " + at + " is beyond the " + slots.length + " slots with a token");
            }
            return slots[at];
        }

        private @Nullable String configValue(String key) {
            if (configFile == null) {
                return null;
            }
            try {
                for (String line : Files.readAllLines(configFile)) {
                    String t = line.strip();
                    int eq = t.indexOf('=');
                    if (eq > 0 && t.substring(0, eq).strip().equals(key)) {
                        return t.substring(eq + 1).strip();
                    }
                }
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("kms.pkcs11.config: cannot read " + configFile, e);
            }
            return null;
        }

        @Override
        public String toString() {
            return (configFile != null
                            ? "config=" + configFile
                            : "library=" + library
                                    + (slot != null ? ", slot=" + slot : ", slotListIndex=" + slotListIndex))
                    + ", pin=<redacted>";
        }
    }
}
