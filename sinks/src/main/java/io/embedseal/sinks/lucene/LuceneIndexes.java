package io.embedseal.sinks.lucene;

import io.embedseal.keyring.KekResolver;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.sinks.lucene.encryption.BlockCache;
import io.embedseal.sinks.lucene.encryption.EncryptedDirectory;
import io.embedseal.sinks.lucene.encryption.IndexKeyFile;
import io.embedseal.sinks.lucene.encryption.TenantIndexKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.jspecify.annotations.Nullable;

/**
 * The tenants' Lucene indexes under one root ({@code <root>/<tenant>}) and how their files are opened: encrypted
 * under each tenant's own index key (the default, {@code lucene.encryption=tenant-key}), or as plain Lucene files
 * ({@code none}, for comparison and for indexes that hold nothing secret). A tenant's index key is unwrapped through
 * its KMS when its index is first opened and kept until {@link #forget} (revoked, destroyed, closed). Thread-safe.
 */
public final class LuceneIndexes implements AutoCloseable {

    /** What decides {@code lucene.encryption}. */
    public static final String SETTING = "lucene.encryption";

    private final Path root;
    private final @Nullable Kms kms;
    private final @Nullable KekResolver naming;
    private final BlockCache cache;
    private final Map<String, TenantIndexKeys> keys = new ConcurrentHashMap<>();

    private LuceneIndexes(Path root, @Nullable Kms kms, @Nullable KekResolver naming, BlockCache cache) {
        this.root = root.toAbsolutePath();
        this.kms = kms;
        this.naming = naming;
        this.cache = cache;
    }

    /** Every index encrypted under its tenant's index key, wrapped by the tenant's KEK in {@code kms}. */
    public static LuceneIndexes encrypted(Path root, Kms kms, KekResolver naming, long cacheBytes) {
        return new LuceneIndexes(
                root, Objects.requireNonNull(kms), Objects.requireNonNull(naming), new BlockCache(cacheBytes));
    }

    /** Plain Lucene files: whoever reads the disk reads the vectors. */
    public static LuceneIndexes plaintext(Path root) {
        return new LuceneIndexes(root, null, null, BlockCache.disabled());
    }

    public Path root() {
        return root;
    }

    public boolean encrypted() {
        return kms != null;
    }

    public BlockCache cache() {
        return cache;
    }

    public Path tenantDir(String tenant) {
        return LuceneVectorStore.tenantDir(root, tenant);
    }

    /**
     * The tenant's index directory, or null if it has none and {@code create} is false.
     *
     * @throws IOException if the index is of the other kind (encrypted where plaintext is configured, or the reverse),
     *     or its key file is refused
     * @throws io.embedseal.keyring.kms.KmsException if the tenant's KMS does not unwrap its index key
     */
    public @Nullable Directory open(String tenant, boolean create) throws IOException {
        Path dir = tenantDir(tenant);
        boolean exists = Files.isDirectory(dir);
        if (!exists && !create) {
            return null;
        }
        boolean keyed = exists && IndexKeyFile.exists(dir);
        if (kms == null) {
            if (keyed) {
                throw new IOException("tenant " + tenant + "'s index in " + dir + " is encrypted under its index key; "
                        + SETTING + "=none cannot read it (use " + SETTING + "=tenant-key)");
            }
            Files.createDirectories(dir);
            return FSDirectory.open(dir);
        }
        if (!keyed && exists && hasIndexFiles(dir)) {
            throw new IOException("tenant " + tenant + "'s index in " + dir + " is not encrypted (written with "
                    + SETTING + "=none, or by an older embedseal): refused, so that nothing is added to plaintext "
                    + "files. Rebuild it: stop the connector, move the directory away and replay the sealed topic");
        }
        TenantIndexKeys k = keys.get(tenant);
        if (k == null || k.isDestroyed()) {
            Optional<TenantIndexKeys> opened = TenantIndexKeys.open(
                    dir, tenant, kms, Objects.requireNonNull(naming).kekNameFor(tenant), create);
            if (opened.isEmpty()) {
                return null;
            }
            k = opened.get();
            TenantIndexKeys raced = keys.putIfAbsent(tenant, k);
            if (raced != null && !raced.isDestroyed()) {
                k.destroy();
                k = raced;
            } else if (raced != null) {
                keys.put(tenant, k);
            }
        }
        return new EncryptedDirectory(FSDirectory.open(dir), tenant, k, cache);
    }

    private static boolean hasIndexFiles(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.anyMatch(p -> p.getFileName().toString().startsWith("segments"));
        }
    }

    /** Whether the tenant has a committed index (opening it if so, which unwraps its key). */
    public boolean exists(String tenant) throws IOException {
        Directory d = open(tenant, false);
        return d != null && DirectoryReader.indexExists(d);
    }

    /** The tenant's keys while its index is open here, for re-wrapping and re-encryption. */
    public @Nullable TenantIndexKeys keys(String tenant) {
        return keys.get(tenant);
    }

    /**
     * ROTATED: the tenant's index key wrapped again under its KEK's current version (one KMS call if its index is open
     * here, two if not); no index file is rewritten. Empty if the tenant has no encrypted index.
     */
    public Optional<KekRef> rewrap(String tenant) throws IOException {
        if (kms == null) {
            return Optional.empty();
        }
        if (keys.get(tenant) == null && open(tenant, false) == null) {
            return Optional.empty();
        }
        TenantIndexKeys k = keys.get(tenant);
        return k == null ? Optional.empty() : Optional.of(k.rewrap());
    }

    /** Destroys the tenant's keys in memory and drops what they decrypted. Its files stay; reopening asks the KMS. */
    public void forget(String tenant) {
        TenantIndexKeys k = keys.remove(tenant);
        if (k != null) {
            k.destroy();
        }
        cache.forgetTenant(tenant);
    }

    @Override
    public void close() {
        for (String tenant : new ArrayList<>(keys.keySet())) {
            forget(tenant);
        }
    }

    @Override
    public String toString() {
        return "LuceneIndexes[" + root + (encrypted() ? ", encrypted per tenant" : ", plaintext") + "]";
    }
}
