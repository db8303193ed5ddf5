package io.embedseal.keyring.kms.local;

import com.google.crypto.tink.AccessesPartialKey;
import com.google.crypto.tink.Aead;
import com.google.crypto.tink.HybridDecrypt;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.PublicKeySign;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.aead.AeadConfig;
import com.google.crypto.tink.aead.AesGcmKey;
import com.google.crypto.tink.aead.PredefinedAeadParameters;
import com.google.crypto.tink.hybrid.HpkeParameters;
import com.google.crypto.tink.hybrid.HpkePrivateKey;
import com.google.crypto.tink.hybrid.HybridConfig;
import com.google.crypto.tink.signature.Ed25519PublicKey;
import com.google.crypto.tink.signature.PredefinedSignatureParameters;
import com.google.crypto.tink.signature.SignatureConfig;
import com.google.crypto.tink.subtle.AesGcmJce;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.WrappedDek;
import java.io.IOException;
import java.io.Reader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A KMS for development and the embedded demo: each KEK is a Tink AES-256-GCM keyset stored <b>in
 * cleartext</b> as {@code <dir>/<keyName>.keyset.json} (directory 0700, files 0600). Version {@code n} of a
 * KEK is the n-th key of its keyset; the newest wraps. {@code <keyName>.state.properties} holds the minimum
 * decryption version and whether the key is disabled.
 *
 * <p>Nothing is cached: every call reads the files, so a rotation or revocation made by another process
 * sharing the directory (the CLI) takes effect on the next call. Changes are serialised by a lock file and
 * written by atomic rename. {@link #destroy} overwrites the keyset with zeros before deleting it; on
 * journaling or flash storage that is best effort, one more reason this provider is for development only.
 *
 * <p><b>Public-key KEKs</b> ({@link KekKind#PUBLIC_KEY}) are Tink HPKE keysets (DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, AES-256-GCM, no output prefix) in the same file: version {@code n} is the n-th key pair. Wraps are made
 * with the public key alone ({@link PublicKek}, which seals with embedseal's own HPKE code) and opened here with Tink's,
 * so every round trip checks one implementation against the other.
 *
 * <p>Anyone who can read the directory holds every tenant's key: this provider announces itself as
 * development-only in the log when it starts.
 */
public final class LocalKms implements KmsProvider {

    /** The provider name under which this KMS is configured and which appears in its KEK references. */
    public static final String PROVIDER = "local";

    private static final Logger LOG = LoggerFactory.getLogger(LocalKms.class);
    private static final Pattern FILE_SAFE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final String KEYSET_SUFFIX = ".keyset.json";
    private static final String STATE_SUFFIX = ".state.properties";
    private static final String SIGNING_SUFFIX = ".signing-keyset.json";
    /** The DER header of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes. */
    private static final byte[] ED25519_SPKI_PREFIX = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
    };

    private static final boolean POSIX =
            FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    /** File locks are per process; this serialises the threads of this process per directory. */
    private static final ConcurrentMap<Path, ReentrantLock> DIRECTORY_LOCKS = new ConcurrentHashMap<>();

    static {
        try {
            AeadConfig.register();
            HybridConfig.register();
            SignatureConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Path dir;

    /** @param dir where keyset files live; created (mode 0700) if missing */
    public LocalKms(Path dir) {
        this.dir = Objects.requireNonNull(dir, "dir").toAbsolutePath().normalize();
        try {
            createPrivateDirectory(this.dir);
        } catch (IOException e) {
            throw new KmsUnavailableException("local KMS cannot create its directory " + this.dir, e);
        }
        LOG.warn("**************************************************************************************");
        LOG.warn("* LOCAL KMS IS FOR DEVELOPMENT ONLY. Tenant KEKs are stored UNENCRYPTED in {}", this.dir);
        LOG.warn("* Anyone who can read that directory can unseal every record. Use vault or pkcs11 for real data.");
        LOG.warn("**************************************************************************************");
    }

    @Override
    public String provider() {
        return PROVIDER;
    }

    /** The directory holding the keyset files. */
    public Path dir() {
        return dir;
    }

    @Override
    public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
        KeysetHandle keyset = readKeyset(keyName);
        State state = readState(keyName);
        requireEnabled(keyName, state);
        KekRef kek = new KekRef(PROVIDER, keyName, keyset.size());
        if (isPublicKeyKek(keyset)) {
            throw new KmsException("key '" + keyName
                    + "' is a public-key KEK: data keys are wrapped with the public key pinned in the tenant's "
                    + "signed key events (the keyring does it, without the KMS), never by the KMS");
        }
        try {
            return new WrappedDek(kek, aead(keyset, kek).encrypt(dek, associatedData));
        } catch (GeneralSecurityException e) {
            throw new KmsException("local KMS could not wrap a DEK under " + kek, e);
        }
    }

    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        requireOurs(kek);
        KeysetHandle keyset = readKeyset(kek.keyName());
        State state = readState(kek.keyName());
        requireEnabled(kek.keyName(), state);
        if (kek.version() > keyset.size()) {
            throw new UnknownKeyException("local KEK '" + kek.keyName() + "' has no version " + kek.version()
                    + " (newest is " + keyset.size() + ")");
        }
        if (kek.version() < state.minDecryptionVersion()) {
            throw new KeyDeniedException("local KEK " + kek + " is restricted: versions below "
                    + state.minDecryptionVersion() + " may not unwrap");
        }
        if (isPublicKeyKek(keyset)) {
            HybridDecrypt hpke = hybridDecrypt(keyset, kek);
            return PublicKek.unwrapHpke(wrappedDek, associatedData, (ciphertext, info) -> {
                try {
                    return hpke.decrypt(ciphertext, info);
                } catch (GeneralSecurityException e) {
                    throw new InvalidWrappedKeyException(
                            "wrapped DEK does not open under " + kek + " with the given associated data", e);
                }
            });
        }
        if (PublicKek.isPublicKeyWrap(wrappedDek)) {
            throw new InvalidWrappedKeyException(
                    "wrapped DEK was made with a public key, but local KEK " + kek + " is symmetric");
        }
        try {
            return aead(keyset, kek).decrypt(wrappedDek, associatedData);
        } catch (GeneralSecurityException e) {
            throw new InvalidWrappedKeyException(
                    "wrapped DEK does not open under " + kek + " with the given associated data", e);
        }
    }

    @Override
    public KeyDescription describe(String keyName) {
        KeysetHandle keyset = readKeyset(keyName);
        State state = readState(keyName);
        return new KeyDescription(
                PROVIDER,
                keyName,
                keyset.size(),
                Math.min(state.minDecryptionVersion(), keyset.size()),
                state.disabled() ? KeyState.DISABLED : KeyState.ENABLED);
    }

    @Override
    public KekRef createKek(String keyName) {
        return createKek(keyName, KekKind.SYMMETRIC);
    }

    @Override
    public KekRef createKek(String keyName, KekKind kind) {
        requireFileSafe(keyName);
        return locked(() -> {
            Path file = keysetFile(keyName);
            if (Files.exists(file)) {
                return new KekRef(PROVIDER, keyName, readKeyset(keyName).size());
            }
            try {
                writeKeyset(
                        keyName,
                        KeysetHandle.generateNew(
                                kind == KekKind.PUBLIC_KEY ? HPKE : PredefinedAeadParameters.AES256_GCM));
            } catch (GeneralSecurityException e) {
                throw new KmsException("local KMS could not generate KEK '" + keyName + "'", e);
            }
            LOG.warn("local KMS created {} KEK '{}' in {} (development only)", kind.label(), keyName, file);
            return new KekRef(PROVIDER, keyName, 1);
        });
    }

    /** The public key of an HPKE KEK's version; null for an AES-GCM KEK. */
    @Override
    public @Nullable PublicKek publicKek(String keyName, int version) {
        KeysetHandle keyset = readKeyset(keyName);
        if (version < 1 || version > keyset.size()) {
            throw new UnknownKeyException("local KEK '" + keyName + "' has no version " + version);
        }
        return isPublicKeyKek(keyset) ? publicKek(keyset, new KekRef(PROVIDER, keyName, version)) : null;
    }

    @Override
    public KekRef rotate(String keyName) {
        return locked(() -> {
            KeysetHandle keyset = readKeyset(keyName);
            try {
                KeysetHandle rotated = KeysetHandle.newBuilder(keyset)
                        .addEntry(KeysetHandle.generateEntryFromParameters(
                                        isPublicKeyKek(keyset) ? HPKE : PredefinedAeadParameters.AES256_GCM)
                                .withRandomId()
                                .makePrimary())
                        .build();
                writeKeyset(keyName, rotated);
                return new KekRef(PROVIDER, keyName, rotated.size());
            } catch (GeneralSecurityException e) {
                throw new KmsException("local KMS could not rotate KEK '" + keyName + "'", e);
            }
        });
    }

    @Override
    public void restrictVersions(String keyName, int minDecryptionVersion) {
        locked(() -> {
            int latest = readKeyset(keyName).size();
            if (minDecryptionVersion < 1 || minDecryptionVersion > latest) {
                throw new IllegalArgumentException("minimum decryption version for '" + keyName + "' must be 1.."
                        + latest + ", got " + minDecryptionVersion);
            }
            State state = readState(keyName);
            writeState(keyName, new State(minDecryptionVersion, state.disabled()));
            return null;
        });
    }

    @Override
    public void disable(String keyName) {
        setDisabled(keyName, true);
    }

    @Override
    public void enable(String keyName) {
        setDisabled(keyName, false);
    }

    private void setDisabled(String keyName, boolean disabled) {
        locked(() -> {
            readKeyset(keyName); // the key must exist
            State state = readState(keyName);
            writeState(keyName, new State(state.minDecryptionVersion(), disabled));
            return null;
        });
    }

    @Override
    public void destroy(String keyName) {
        locked(() -> {
            Path file = keysetFile(keyName);
            if (!Files.exists(file)) {
                throw new UnknownKeyException("local KMS has no KEK named '" + keyName + "' in " + dir);
            }
            try {
                long size = Files.size(file);
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    ch.write(java.nio.ByteBuffer.allocate((int) size));
                    ch.force(true);
                }
                Files.delete(file);
                Files.deleteIfExists(stateFile(keyName));
            } catch (IOException e) {
                throw new KmsUnavailableException("local KMS could not destroy " + file, e);
            }
            LOG.warn("local KMS destroyed KEK '{}': everything wrapped under it is now unreadable", keyName);
            return null;
        });
    }

    // --- key import (development only: the transport key is a file too) ----------------------------

    /**
     * Import with a transport key pair (RSA-3072) kept in the directory as {@code import-transport.p8}, made on first
     * use: RSA-OAEP-SHA256 + AES-KWP as Vault takes it. Symmetric material is an AES-256 key, key-pair material an X25519
     * private key (HPKE, as this provider's public-key KEKs are).
     */
    @Override
    public Optional<io.embedseal.keyring.kms.KeyImport> keyImport() {
        return Optional.of(new LocalKeyImport());
    }

    private static final String TRANSPORT_FILE = "import-transport.p8";

    private final class LocalKeyImport implements io.embedseal.keyring.kms.KeyImport {

        @Override
        public io.embedseal.keyring.kms.ImportParameters parameters(String keyName, KekKind kind) {
            requireFileSafe(keyName);
            java.security.interfaces.RSAPrivateCrtKey transport = transportKey();
            byte[] spki;
            try {
                spki = KeyFactory.getInstance("RSA")
                        .generatePublic(new java.security.spec.RSAPublicKeySpec(
                                transport.getModulus(), transport.getPublicExponent()))
                        .getEncoded();
            } catch (GeneralSecurityException e) {
                throw new KmsException("local KMS cannot derive its transport public key", e);
            }
            return new io.embedseal.keyring.kms.ImportParameters(
                    PROVIDER,
                    keyName,
                    kind,
                    io.embedseal.keyring.kms.ImportParameters.Wrapping.RSA_OAEP_SHA256_AES_KWP,
                    spki,
                    kind == KekKind.PUBLIC_KEY
                            ? io.embedseal.keyring.kms.ImportParameters.Material.X25519_RAW
                            : io.embedseal.keyring.kms.ImportParameters.Material.AES_256_RAW);
        }

        @Override
        @AccessesPartialKey // the imported key's bytes become a Tink key
        public KekRef importKek(String keyName, KekKind kind, byte[] wrapped) {
            requireFileSafe(keyName);
            java.security.interfaces.RSAPrivateCrtKey transport = transportKey();
            byte[] material = io.embedseal.keyring.kms.KeyImportWrap.unwrap(
                    io.embedseal.keyring.kms.ImportParameters.Wrapping.RSA_OAEP_SHA256_AES_KWP,
                    transport,
                    (transport.getModulus().bitLength() + 7) / 8,
                    wrapped);
            try {
                if (material.length != 32) {
                    throw new InvalidWrappedKeyException("imported key material is " + material.length + " bytes; a "
                            + kind.label() + " KEK here takes 32");
                }
                KeysetHandle keyset;
                try {
                    com.google.crypto.tink.Key key;
                    if (kind == KekKind.PUBLIC_KEY) {
                        com.google.crypto.tink.hybrid.HpkePublicKey pub =
                                com.google.crypto.tink.hybrid.HpkePublicKey.create(
                                        HPKE,
                                        com.google.crypto.tink.util.Bytes.copyFrom(
                                                com.google.crypto.tink.subtle.X25519.publicFromPrivate(material)),
                                        null);
                        key = HpkePrivateKey.create(
                                pub,
                                com.google.crypto.tink.util.SecretBytes.copyFrom(
                                        material, InsecureSecretKeyAccess.get()));
                        keyset = KeysetHandle.newBuilder()
                                .addEntry(KeysetHandle.importKey(key)
                                        .withRandomId()
                                        .makePrimary())
                                .build();
                    } else {
                        int id = new java.security.SecureRandom().nextInt() | 1;
                        key = AesGcmKey.builder()
                                .setParameters(PredefinedAeadParameters.AES256_GCM)
                                .setKeyBytes(com.google.crypto.tink.util.SecretBytes.copyFrom(
                                        material, InsecureSecretKeyAccess.get()))
                                .setIdRequirement(id)
                                .build();
                        keyset = KeysetHandle.newBuilder()
                                .addEntry(KeysetHandle.importKey(key)
                                        .withFixedId(id)
                                        .makePrimary())
                                .build();
                    }
                } catch (GeneralSecurityException e) {
                    throw new InvalidWrappedKeyException("imported key material is not a " + kind.label() + " key");
                }
                KeysetHandle made = keyset;
                return locked(() -> {
                    if (Files.exists(keysetFile(keyName))) {
                        throw new KmsException("local KMS already has a key '" + keyName
                                + "'; an import never replaces a key: choose another name");
                    }
                    writeKeyset(keyName, made);
                    LOG.warn("local KMS imported {} KEK '{}' (development only)", kind.label(), keyName);
                    return new KekRef(PROVIDER, keyName, 1);
                });
            } finally {
                java.util.Arrays.fill(material, (byte) 0);
            }
        }

        @Override
        public void requireImportedOnly(String keyName) {
            int versions = readKeyset(keyName).size();
            if (versions != 1) {
                throw new KmsException("local key '" + keyName + "' has " + versions
                        + " versions; only version 1 is the tenant's proven import");
            }
        }

        /** Tink's AES-GCM output: the key's output prefix (0x01 and its id), then the check as it is. */
        @Override
        public byte[] checkAsWrappedDek(KekRef kek, byte[] check) {
            requireOurs(kek);
            KeysetHandle keyset = readKeyset(kek.keyName());
            if (kek.version() > keyset.size()) {
                throw new UnknownKeyException("local KEK '" + kek.keyName() + "' has no version " + kek.version());
            }
            if (!(keyset.getAt(kek.version() - 1).getKey() instanceof AesGcmKey key)) {
                throw new KmsException("local KEK " + kek + " is not a symmetric key; a key pair has no key check");
            }
            byte[] prefix = key.getOutputPrefix().toByteArray();
            byte[] out = java.util.Arrays.copyOf(prefix, prefix.length + check.length);
            System.arraycopy(check, 0, out, prefix.length, check.length);
            return out;
        }
    }

    /** The transport key pair, made on first use (0600, like every key here). */
    private java.security.interfaces.RSAPrivateCrtKey transportKey() {
        return locked(() -> {
            Path file = dir.resolve(TRANSPORT_FILE);
            try {
                if (!Files.exists(file)) {
                    java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("RSA");
                    g.initialize(3072);
                    byte[] der = g.generateKeyPair().getPrivate().getEncoded();
                    writeAtomically(file, java.util.Base64.getEncoder().encodeToString(der));
                }
                byte[] der = java.util.Base64.getDecoder()
                        .decode(Files.readString(file, StandardCharsets.US_ASCII)
                                .strip());
                return (java.security.interfaces.RSAPrivateCrtKey)
                        KeyFactory.getInstance("RSA").generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(der));
            } catch (IOException e) {
                throw new KmsUnavailableException("local KMS cannot read " + file, e);
            } catch (GeneralSecurityException | IllegalArgumentException | ClassCastException e) {
                throw new KmsException("local KMS transport key " + file + " is not an RSA private key", e);
            }
        });
    }

    // --- signing keys (development only, like the KEKs) ----------------------------------------------

    /** Ed25519 signing keys as Tink keysets in the same directory ({@code <name>.signing-keyset.json}). */
    @Override
    public Optional<SigningKeys> signingKeys() {
        return Optional.of(new LocalSigningKeys());
    }

    private final class LocalSigningKeys implements SigningKeys {

        @Override
        public String provider() {
            return PROVIDER;
        }

        @Override
        public void createSigningKey(String keyName) {
            requireFileSafe(keyName);
            locked(() -> {
                Path file = signingFile(keyName);
                if (Files.exists(file)) {
                    return null;
                }
                try {
                    writeAtomically(
                            file,
                            TinkJsonProtoKeysetFormat.serializeKeyset(
                                    KeysetHandle.generateNew(PredefinedSignatureParameters.ED25519WithRawOutput),
                                    InsecureSecretKeyAccess.get()));
                } catch (GeneralSecurityException e) {
                    throw new KmsException("local KMS could not generate signing key '" + keyName + "'", e);
                }
                LOG.warn("local KMS created signing key '{}' in {} (development only)", keyName, file);
                return null;
            });
        }

        @Override
        @AccessesPartialKey // the public key's bytes, to hand them to JCA verifiers as X.509
        public PublicKey publicKey(String keyName) {
            try {
                Ed25519PublicKey k = (Ed25519PublicKey) readSigningKeyset(keyName)
                        .getPublicKeysetHandle()
                        .getPrimary()
                        .getKey();
                byte[] raw = k.getPublicKeyBytes().toByteArray();
                byte[] spki = new byte[ED25519_SPKI_PREFIX.length + raw.length];
                System.arraycopy(ED25519_SPKI_PREFIX, 0, spki, 0, ED25519_SPKI_PREFIX.length);
                System.arraycopy(raw, 0, spki, ED25519_SPKI_PREFIX.length, raw.length);
                return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
            } catch (GeneralSecurityException | ClassCastException e) {
                throw new KmsException("local KMS signing key '" + keyName + "' is not an Ed25519 keyset", e);
            }
        }

        @Override
        public byte[] sign(String keyName, byte[] message) {
            try {
                return readSigningKeyset(keyName)
                        .getPrimitive(RegistryConfiguration.get(), PublicKeySign.class)
                        .sign(message);
            } catch (GeneralSecurityException e) {
                throw new KmsException("local KMS could not sign with '" + keyName + "'", e);
            }
        }

        private KeysetHandle readSigningKeyset(String keyName) {
            return readKeysetFile(signingFile(keyName), "signing key", keyName);
        }

        private Path signingFile(String keyName) {
            return dir.resolve(requireFileSafe(keyName) + SIGNING_SUFFIX);
        }
    }

    // --- files ---------------------------------------------------------------------------------------

    private Path keysetFile(String keyName) {
        return dir.resolve(requireFileSafe(keyName) + KEYSET_SUFFIX);
    }

    private Path stateFile(String keyName) {
        return dir.resolve(requireFileSafe(keyName) + STATE_SUFFIX);
    }

    private KeysetHandle readKeyset(String keyName) {
        return readKeysetFile(keysetFile(keyName), "KEK", keyName);
    }

    /** A Tink keyset file: a missing one is an unknown key, an unreadable one an outage. */
    private KeysetHandle readKeysetFile(Path file, String what, String keyName) {
        String json;
        try {
            json = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UnknownKeyException("local KMS has no " + what + " named '" + keyName + "' in " + dir, e);
        } catch (IOException e) {
            throw new KmsUnavailableException("local KMS cannot read " + file, e);
        }
        try {
            return TinkJsonProtoKeysetFormat.parseKeyset(json, InsecureSecretKeyAccess.get());
        } catch (GeneralSecurityException e) {
            throw new KmsException("local KMS file " + file + " is not a valid Tink keyset", e);
        }
    }

    private void writeKeyset(String keyName, KeysetHandle keyset) {
        try {
            writeAtomically(
                    keysetFile(keyName),
                    TinkJsonProtoKeysetFormat.serializeKeyset(keyset, InsecureSecretKeyAccess.get()));
        } catch (GeneralSecurityException e) {
            throw new KmsException("local KMS could not serialise KEK '" + keyName + "'", e);
        }
    }

    private record State(int minDecryptionVersion, boolean disabled) {}

    private State readState(String keyName) {
        Path file = stateFile(keyName);
        if (!Files.exists(file)) {
            return new State(1, false);
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
            return new State(
                    Integer.parseInt(
                            p.getProperty("min_decryption_version", "1").trim()),
                    Boolean.parseBoolean(p.getProperty("disabled", "false").trim()));
        } catch (IOException | NumberFormatException e) {
            throw new KmsUnavailableException("local KMS cannot read " + file, e);
        }
    }

    private void writeState(String keyName, State state) {
        writeAtomically(
                stateFile(keyName),
                "# embedseal local KMS key state\nmin_decryption_version=" + state.minDecryptionVersion()
                        + "\ndisabled=" + state.disabled() + "\n");
    }

    private void writeAtomically(Path target, String content) {
        try {
            Path tmp = Files.createTempFile(dir, target.getFileName() + ".", ".tmp", privateFile());
            try {
                Files.writeString(tmp, content, StandardCharsets.UTF_8);
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new KmsUnavailableException("local KMS cannot write " + target, e);
        }
    }

    /** Runs a read-modify-write under this process's lock for the directory and the directory's lock file. */
    private <T> T locked(Supplier<T> action) {
        ReentrantLock jvmLock = DIRECTORY_LOCKS.computeIfAbsent(dir, d -> new ReentrantLock());
        jvmLock.lock();
        try (FileChannel ch =
                        FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock ignored = ch.lock()) {
            return action.get();
        } catch (IOException e) {
            throw new KmsUnavailableException("local KMS cannot lock " + dir, e);
        } finally {
            jvmLock.unlock();
        }
    }

    // --- checks --------------------------------------------------------------------------------------

    private static Aead aead(KeysetHandle keyset, KekRef kek) {
        try {
            return AesGcmJce.create((AesGcmKey) keyset.getAt(kek.version() - 1).getKey());
        } catch (GeneralSecurityException | ClassCastException e) {
            throw new KmsException("local KEK " + kek + " is not an AES-GCM key", e);
        }
    }

    /** HPKE with X25519, HKDF-SHA256 and AES-256-GCM, no output prefix: what {@link PublicKek} seals to. */
    private static final HpkeParameters HPKE = hpkeParameters();

    private static HpkeParameters hpkeParameters() {
        try {
            return HpkeParameters.builder()
                    .setKemId(HpkeParameters.KemId.DHKEM_X25519_HKDF_SHA256)
                    .setKdfId(HpkeParameters.KdfId.HKDF_SHA256)
                    .setAeadId(HpkeParameters.AeadId.AES_256_GCM)
                    .setVariant(HpkeParameters.Variant.NO_PREFIX)
                    .build();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static boolean isPublicKeyKek(KeysetHandle keyset) {
        return keyset.getPrimary().getKey() instanceof HpkePrivateKey;
    }

    private static HpkePrivateKey hpkeKey(KeysetHandle keyset, KekRef kek) {
        if (!(keyset.getAt(kek.version() - 1).getKey() instanceof HpkePrivateKey key)
                || !key.getParameters().equals(HPKE)) {
            throw new KmsException("local KEK " + kek + " is not an HPKE X25519/HKDF-SHA256/AES-256-GCM key");
        }
        return key;
    }

    @AccessesPartialKey // the public key's bytes, to pin them as X.509 in the tenant's key events
    private static PublicKek publicKek(KeysetHandle keyset, KekRef kek) {
        byte[] raw = hpkeKey(keyset, kek).getPublicKey().getPublicKeyBytes().toByteArray();
        return PublicKek.of(kek, io.embedseal.keyring.kms.Hpke.spkiFromRaw(raw));
    }

    private static HybridDecrypt hybridDecrypt(KeysetHandle keyset, KekRef kek) {
        try {
            return KeysetHandle.newBuilder()
                    .addEntry(KeysetHandle.importKey(hpkeKey(keyset, kek))
                            .withRandomId()
                            .makePrimary())
                    .build()
                    .getPrimitive(RegistryConfiguration.get(), HybridDecrypt.class);
        } catch (GeneralSecurityException e) {
            throw new KmsException("local KEK " + kek + " cannot decrypt", e);
        }
    }

    private static void requireEnabled(String keyName, State state) {
        if (state.disabled()) {
            throw new KeyDeniedException("local KEK '" + keyName + "' is disabled");
        }
    }

    private static void requireOurs(KekRef kek) {
        if (!PROVIDER.equals(kek.provider())) {
            throw new UnknownKeyException(
                    "KEK " + kek + " belongs to KMS provider '" + kek.provider() + "', not to '" + PROVIDER + "'");
        }
    }

    private static String requireFileSafe(String keyName) {
        if (keyName == null || !FILE_SAFE_NAME.matcher(keyName).matches()) {
            throw new IllegalArgumentException("local KMS key names must match " + FILE_SAFE_NAME
                    + " (they become file names), got: " + (keyName == null ? "null" : "'" + keyName + "'"));
        }
        return keyName;
    }

    private static void createPrivateDirectory(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        if (POSIX) {
            Files.createDirectories(
                    dir,
                    PosixFilePermissions.asFileAttribute(Set.of(
                            PosixFilePermission.OWNER_READ,
                            PosixFilePermission.OWNER_WRITE,
                            PosixFilePermission.OWNER_EXECUTE)));
        } else {
            Files.createDirectories(dir);
        }
    }

    private static FileAttribute<?>[] privateFile() {
        if (!POSIX) {
            return new FileAttribute<?>[0];
        }
        return new FileAttribute<?>[] {
            PosixFilePermissions.asFileAttribute(
                    Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE))
        };
    }

    @Override
    public String toString() {
        return "LocalKms[dir=" + dir + "]";
    }
}
