package io.embedseal.keyring.kms.local;

import com.google.crypto.tink.Aead;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.aead.AeadConfig;
import com.google.crypto.tink.aead.AesGcmKey;
import com.google.crypto.tink.aead.PredefinedAeadParameters;
import com.google.crypto.tink.subtle.AesGcmJce;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.UnknownKeyException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.regex.Pattern;

/**
 * A KMS for development and the embedded demo: each KEK is a Tink AES-256-GCM keyset stored <b>in
 * cleartext</b> as {@code <dataDir>/<keyName>.keyset.json} (directory mode 0700, file mode 0600).
 * Version {@code n} of a KEK is the n-th key of its keyset; the newest is the one that wraps.
 *
 * <p>Anyone who can read the data directory holds every tenant's key: this provider announces itself as
 * development-only in the log when it starts. Use {@code vault} or {@code pkcs11} for anything real.
 */
public final class LocalKms implements Kms {

    /** The provider name under which this KMS is configured and which appears in its KEK references. */
    public static final String PROVIDER = "local";

    private static final Logger LOG = LoggerFactory.getLogger(LocalKms.class);
    private static final Pattern FILE_SAFE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final String SUFFIX = ".keyset.json";
    private static final boolean POSIX = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

    static {
        try {
            AeadConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Path dataDir;
    private final boolean createMissingKeys;
    private final ConcurrentMap<String, KeysetHandle> keysets = new ConcurrentHashMap<>();

    /**
     * @param dataDir           where keyset files live; created (mode 0700) if missing
     * @param createMissingKeys when true, {@link #currentKek} creates a KEK that does not exist yet (the
     *                          embedded demo's behaviour); when false it throws {@link UnknownKeyException}
     */
    public LocalKms(Path dataDir, boolean createMissingKeys) {
        this.dataDir = Objects.requireNonNull(dataDir, "dataDir").toAbsolutePath();
        this.createMissingKeys = createMissingKeys;
        try {
            createPrivateDirectory(this.dataDir);
        } catch (IOException e) {
            throw new KmsUnavailableException("local KMS cannot create its data directory " + this.dataDir, e);
        }
        LOG.warn("**************************************************************************************");
        LOG.warn("* LOCAL KMS IS FOR DEVELOPMENT ONLY. Tenant KEKs are stored UNENCRYPTED in {}", this.dataDir);
        LOG.warn("* Anyone who can read that directory can unseal every record. Use vault or pkcs11 for real data.");
        LOG.warn("**************************************************************************************");
    }

    @Override
    public String provider() {
        return PROVIDER;
    }

    /** The directory holding the keyset files. */
    public Path dataDir() {
        return dataDir;
    }

    @Override
    public KekRef currentKek(String keyName) {
        KeysetHandle handle = keyset(keyName, createMissingKeys);
        return new KekRef(PROVIDER, keyName, handle.size());
    }

    @Override
    public byte[] wrapDek(KekRef kek, byte[] dek, byte[] associatedData) {
        Aead aead = aeadFor(kek);
        try {
            return aead.encrypt(dek, associatedData);
        } catch (GeneralSecurityException e) {
            throw new KmsException("local KMS could not wrap a DEK under " + kek, e);
        }
    }

    @Override
    public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
        Aead aead = aeadFor(kek);
        try {
            return aead.decrypt(wrappedDek, associatedData);
        } catch (GeneralSecurityException e) {
            throw new InvalidWrappedKeyException("wrapped DEK does not open under " + kek
                    + " with the given associated data", e);
        }
    }

    private Aead aeadFor(KekRef kek) {
        if (!PROVIDER.equals(kek.provider())) {
            throw new UnknownKeyException("KEK " + kek + " belongs to KMS provider '" + kek.provider()
                    + "', not to '" + PROVIDER + "'");
        }
        KeysetHandle handle = keyset(kek.keyName(), false);
        if (kek.version() > handle.size()) {
            throw new UnknownKeyException("local KEK '" + kek.keyName() + "' has no version " + kek.version()
                    + " (newest is " + handle.size() + ")");
        }
        try {
            return AesGcmJce.create((AesGcmKey) handle.getAt(kek.version() - 1).getKey());
        } catch (GeneralSecurityException | ClassCastException e) {
            throw new KmsException("local KEK " + kek + " is not an AES-GCM key", e);
        }
    }

    private KeysetHandle keyset(String keyName, boolean create) {
        requireFileSafe(keyName);
        KeysetHandle cached = keysets.get(keyName);
        if (cached != null) {
            return cached;
        }
        // computeIfAbsent serialises creation of one name inside this process; the hard link below
        // serialises it across processes sharing the directory.
        return keysets.computeIfAbsent(keyName, name -> loadOrCreate(name, create));
    }

    private KeysetHandle loadOrCreate(String keyName, boolean create) {
        Path file = dataDir.resolve(keyName + SUFFIX);
        try {
            return read(file);
        } catch (NoSuchFileException missing) {
            if (!create) {
                throw new UnknownKeyException("local KMS has no KEK named '" + keyName + "' in " + dataDir);
            }
        } catch (IOException e) {
            throw new KmsUnavailableException("local KMS cannot read " + file, e);
        }
        try {
            KeysetHandle fresh = KeysetHandle.generateNew(PredefinedAeadParameters.AES256_GCM);
            String json = TinkJsonProtoKeysetFormat.serializeKeyset(fresh, InsecureSecretKeyAccess.get());
            Path tmp = Files.createTempFile(dataDir, keyName + ".", ".tmp", privateFile());
            try {
                Files.writeString(tmp, json, StandardCharsets.UTF_8);
                Files.createLink(file, tmp); // atomic, and fails if another process created the key first
                LOG.warn("local KMS created KEK '{}' in {} (development only)", keyName, file);
                return fresh;
            } catch (FileAlreadyExistsException raced) {
                return read(file);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (GeneralSecurityException e) {
            throw new KmsException("local KMS could not generate KEK '" + keyName + "'", e);
        } catch (IOException e) {
            throw new KmsUnavailableException("local KMS cannot write " + file, e);
        }
    }

    private static KeysetHandle read(Path file) throws IOException {
        String json = Files.readString(file, StandardCharsets.UTF_8);
        try {
            return TinkJsonProtoKeysetFormat.parseKeyset(json, InsecureSecretKeyAccess.get());
        } catch (GeneralSecurityException e) {
            throw new KmsException("local KMS file " + file + " is not a valid Tink keyset", e);
        }
    }

    private static void requireFileSafe(String keyName) {
        if (keyName == null || !FILE_SAFE_NAME.matcher(keyName).matches()) {
            throw new IllegalArgumentException("local KMS key names must match " + FILE_SAFE_NAME
                    + " (they become file names), got: " + (keyName == null ? "null" : "'" + keyName + "'"));
        }
    }

    private static void createPrivateDirectory(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        if (POSIX) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
                    Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE)));
        } else {
            Files.createDirectories(dir);
        }
    }

    private static FileAttribute<?>[] privateFile() {
        if (!POSIX) {
            return new FileAttribute<?>[0];
        }
        return new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(
                Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE))};
    }

    @Override
    public String toString() {
        return "LocalKms[dataDir=" + dataDir + "]";
    }
}
