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
    private final boolean closeKms;

    private LuceneIndexes(
            Path root, @Nullable Kms kms, @Nullable KekResolver naming, BlockCache cache, boolean closeKms) {
        this.root = root.toAbsolutePath();
        this.kms = kms;
        this.naming = naming;
        this.cache = cache;
        this.closeKms = closeKms;
    }

    /**
     * Every index encrypted under its tenant's index key, wrapped by the tenant's KEK in {@code kms} (which the caller
     * keeps and closes).
     */
    public static LuceneIndexes encrypted(Path root, Kms kms, KekResolver naming, long cacheBytes) {
        return encrypted(root, kms, naming, cacheBytes, false);
    }

    /** As {@link #encrypted(Path, Kms, KekResolver, long)}; with {@code closeKms}, {@link #close()} closes the KMS. */
    public static LuceneIndexes encrypted(Path root, Kms kms, KekResolver naming, long cacheBytes, boolean closeKms) {
        return new LuceneIndexes(
                root,
                Objects.requireNonNull(kms),
                Objects.requireNonNull(naming),
                new BlockCache(cacheBytes),
                closeKms);
    }

    /** Plain Lucene files: whoever reads the disk reads the vectors. */
    public static LuceneIndexes plaintext(Path root) {
        return new LuceneIndexes(root, null, null, BlockCache.disabled(), false);
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

    /** What a re-encryption did. */
    public record Reencrypted(String tenant, String oldKeys, String newKey, int filesRewritten, long bytes) {}

    /**
     * Writes the tenant's index anew under a fresh index key, for when its index key may have been exposed: a fresh key
     * is generated and wrapped under the tenant's KEK (one KMS call) beside the old one in the key file; every file
     * still under another key is decrypted and encrypted again under the new one, written beside and renamed over the
     * original; then the old keys leave the key file. Holds the index's write lock throughout, so the sink (or anything
     * else writing the index) must be stopped. Resumable: after a crash, running it again finishes the files left and
     * keeps the key it had started with. Copies taken before still open with the old key while the tenant's KEK
     * unwraps it; that is why the KEK, not the index key, is what destroying shreds.
     *
     * @throws org.apache.lucene.store.LockObtainFailedException if the index is open for writing elsewhere
     */
    public Reencrypted reencrypt(String tenant) throws IOException {
        if (kms == null) {
            throw new IOException(SETTING + "=none: there is no index key to replace");
        }
        Path dir = tenantDir(tenant);
        if (!IndexKeyFile.exists(dir)) {
            throw new IOException("tenant " + tenant + " has no encrypted index under " + root);
        }
        forget(tenant);
        try (Directory raw = FSDirectory.open(dir);
                org.apache.lucene.store.Lock lock =
                        raw.obtainLock(org.apache.lucene.index.IndexWriter.WRITE_LOCK_NAME)) {
            TenantIndexKeys k = TenantIndexKeys.open(
                            dir, tenant, kms, Objects.requireNonNull(naming).kekNameFor(tenant), false)
                    .orElseThrow();
            try {
                String old = String.join(",", k.keyIds());
                if (k.keyIds().size() == 1) {
                    k.addCurrent();
                } // else: an interrupted run; its new key is current, finish with it
                byte[] current = k.current().id();
                EncryptedDirectory enc = new EncryptedDirectory(raw, tenant, k, BlockCache.disabled());
                int files = 0;
                long bytes = 0;
                for (String name : enc.listAll()) {
                    if (name.equals(org.apache.lucene.index.IndexWriter.WRITE_LOCK_NAME)) {
                        continue;
                    }
                    lock.ensureValid();
                    if (!java.util.Arrays.equals(enc.keyIdOf(name), current)) {
                        enc.rewrite(name);
                        files++;
                        bytes += enc.fileLength(name);
                    }
                }
                raw.syncMetaData();
                String fresh = k.current().idHex();
                k.retireOthers();
                return new Reencrypted(tenant, old, fresh, files, bytes);
            } finally {
                k.destroy();
            }
        }
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
        if (closeKms && kms != null) {
            kms.close();
        }
    }

    @Override
    public String toString() {
        return "LuceneIndexes[" + root + (encrypted() ? ", encrypted per tenant" : ", plaintext") + "]";
    }
}
