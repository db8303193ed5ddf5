package io.embedseal.sinks.lucene.encryption;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.WrappedDek;
import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's index keys, unwrapped through the tenant's KMS when its index is opened and destroyed when it is closed,
 * revoked or shredded. Wrapped forms are accepted only under the tenant's own KEK (the one its registration names, in
 * the KMS this process uses): a key file planted with a key wrapped under any other KEK, even a key in the same KMS that
 * someone else controls, is refused before anything is unwrapped. Thread-safe.
 */
public final class TenantIndexKeys implements EncryptedDirectory.Keys, AutoCloseable {

    private static final SecureRandom RANDOM = new SecureRandom();

    private final String tenant;
    private final Path dir;
    private final Kms kms;
    private final String kekName;
    private IndexKeyFile.Contents contents;
    private final Map<String, IndexKey> unwrapped = new HashMap<>();
    private boolean destroyed;

    private TenantIndexKeys(String tenant, Path dir, Kms kms, String kekName, IndexKeyFile.Contents contents) {
        this.tenant = tenant;
        this.dir = dir;
        this.kms = kms;
        this.kekName = kekName;
        this.contents = contents;
    }

    /**
     * The tenant's keys as its key file holds them: the current one unwrapped now (one KMS call); or, with {@code
     * create} and no key file yet, a fresh key wrapped under the tenant's KEK (one KMS call) and the file written.
     *
     * @return empty if there is no key file and {@code create} is false
     * @throws IOException if the file is malformed or names another tenant or another KEK than the tenant's
     * @throws io.embedseal.keyring.kms.KmsException as the KMS reports it (denied: revoked; unknown: destroyed)
     */
    public static Optional<TenantIndexKeys> open(Path dir, String tenant, Kms kms, String kekName, boolean create)
            throws IOException {
        Optional<IndexKeyFile.Contents> found = IndexKeyFile.read(dir);
        if (found.isEmpty()) {
            if (!create) {
                return Optional.empty();
            }
            IndexKey fresh = generate();
            IndexKeyFile.Contents c;
            try {
                IndexKeyFile.Entry entry = wrap(kms, kekName, tenant, fresh);
                c = new IndexKeyFile.Contents(tenant, fresh.id(), List.of(entry));
                IndexKeyFile.write(dir, c);
            } catch (IOException | RuntimeException e) {
                fresh.destroy();
                throw e;
            }
            TenantIndexKeys keys = new TenantIndexKeys(tenant, dir, kms, kekName, c);
            keys.unwrapped.put(fresh.idHex(), fresh);
            return Optional.of(keys);
        }
        IndexKeyFile.Contents c = found.get();
        if (!c.tenant().equals(tenant)) {
            throw new IOException("the index key file in " + dir + " belongs to tenant '" + c.tenant() + "', not "
                    + tenant + ": refused");
        }
        TenantIndexKeys keys = new TenantIndexKeys(tenant, dir, kms, kekName, c);
        keys.byId(c.current());
        return Optional.of(keys);
    }

    private static IndexKey generate() {
        byte[] id = new byte[IndexFileFormat.KEY_ID_BYTES];
        byte[] key = new byte[IndexKey.KEY_BYTES];
        RANDOM.nextBytes(id);
        RANDOM.nextBytes(key);
        return new IndexKey(id, key);
    }

    private static IndexKeyFile.Entry wrap(Kms kms, String kekName, String tenant, IndexKey key) {
        byte[] raw = key.copyForWrapping();
        try {
            WrappedDek w = kms.wrapDek(kekName, raw, IndexKeyFile.associatedData(tenant, key.id()));
            if (!w.kek().keyName().equals(kekName) || !w.kek().provider().equals(kms.provider())) {
                throw new io.embedseal.keyring.kms.KmsException(
                        "KMS wrapped tenant " + tenant + "'s index key for '" + kekName + "' under " + w.kek());
            }
            return new IndexKeyFile.Entry(key.id(), w.kek(), w.wrapped());
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    public String tenant() {
        return tenant;
    }

    /** The KEK version the current index key is wrapped under. */
    public synchronized KekRef currentKek() {
        return contents.currentEntry().kek();
    }

    @Override
    public synchronized IndexKey current() throws IOException {
        IndexKey k = byId(contents.current());
        if (k == null) {
            throw new IOException("tenant " + tenant + "'s current index key is missing");
        }
        return k;
    }

    @Override
    public synchronized @Nullable IndexKey byId(byte[] id) throws IOException {
        if (destroyed) {
            throw new IOException("tenant " + tenant + "'s index keys were destroyed (revoked, shredded or closed)");
        }
        String hex = java.util.HexFormat.of().formatHex(id);
        IndexKey k = unwrapped.get(hex);
        if (k != null) {
            return k;
        }
        IndexKeyFile.Entry entry = contents.keys().stream()
                .filter(e -> Arrays.equals(e.id(), id))
                .findFirst()
                .orElse(null);
        if (entry == null) {
            return null;
        }
        if (!entry.kek().provider().equals(kms.provider())
                || !entry.kek().keyName().equals(kekName)) {
            throw new KeyDeniedException("tenant " + tenant + "'s index key " + entry.idHex() + " is wrapped under "
                    + entry.kek() + ", which is not the tenant's key (" + kms.provider() + ":" + kekName
                    + "): refused without asking the KMS");
        }
        byte[] raw = kms.unwrapDek(entry.kek(), entry.wrapped(), IndexKeyFile.associatedData(tenant, id));
        if (raw.length != IndexKey.KEY_BYTES) {
            Arrays.fill(raw, (byte) 0);
            throw new io.embedseal.keyring.kms.InvalidWrappedKeyException(
                    "tenant " + tenant + "'s index key " + entry.idHex() + " unwrapped to " + raw.length + " bytes");
        }
        k = new IndexKey(id, raw);
        unwrapped.put(hex, k);
        return k;
    }

    /**
     * ROTATED: wraps every index key again under the KEK's current version, one KMS call each (usually one), and
     * rewrites the key file; no index file changes.
     *
     * @return the KEK version the current key is now wrapped under
     */
    public synchronized KekRef rewrap() throws IOException {
        requireUnchanged();
        List<IndexKeyFile.Entry> entries = new ArrayList<>();
        for (IndexKeyFile.Entry e : contents.keys()) {
            IndexKey k = byId(e.id());
            entries.add(wrap(kms, kekName, tenant, java.util.Objects.requireNonNull(k)));
        }
        contents = new IndexKeyFile.Contents(tenant, contents.current(), entries);
        IndexKeyFile.write(dir, contents);
        return currentKek();
    }

    /**
     * Refuses to write the key file over a version this object did not read (another process, a re-encryption, changed
     * it meanwhile): writing would bring back keys it retired or drop the key it added.
     */
    private void requireUnchanged() throws IOException {
        IndexKeyFile.Contents onDisk = IndexKeyFile.read(dir)
                .orElseThrow(() -> new IOException("tenant " + tenant + "'s index key file is gone"));
        if (!Arrays.equals(onDisk.current(), contents.current())
                || !onDisk.keys().stream()
                        .map(IndexKeyFile.Entry::idHex)
                        .toList()
                        .equals(keyIds())) {
            throw new IOException("tenant " + tenant + "'s index key file was changed by another process (a "
                    + "re-encryption?) since it was read: not overwritten; reopen the index");
        }
    }

    /** Re-encryption, first step: a fresh key becomes current, the others stay until {@link #retireOthers}. */
    public synchronized IndexKey addCurrent() throws IOException {
        current(); // unwraps, or fails, before anything changes
        requireUnchanged();
        IndexKey fresh = generate();
        List<IndexKeyFile.Entry> entries = new ArrayList<>(contents.keys());
        entries.add(wrap(kms, kekName, tenant, fresh));
        contents = new IndexKeyFile.Contents(tenant, fresh.id(), entries);
        IndexKeyFile.write(dir, contents);
        unwrapped.put(fresh.idHex(), fresh);
        return fresh;
    }

    /** Re-encryption, last step: every key but the current one is forgotten, in the file and in memory. */
    public synchronized void retireOthers() throws IOException {
        IndexKeyFile.Entry current = contents.currentEntry();
        contents = new IndexKeyFile.Contents(tenant, current.id(), List.of(current));
        IndexKeyFile.write(dir, contents);
        unwrapped.entrySet().removeIf(e -> {
            if (!e.getKey().equals(current.idHex())) {
                e.getValue().destroy();
                return true;
            }
            return false;
        });
    }

    /** Ids of the keys the file holds. */
    public synchronized List<String> keyIds() {
        return contents.keys().stream().map(IndexKeyFile.Entry::idHex).toList();
    }

    /** Zeroes every unwrapped key; nothing of this tenant's index can be read or written with this object again. */
    public synchronized void destroy() {
        destroyed = true;
        unwrapped.values().forEach(IndexKey::destroy);
        unwrapped.clear();
    }

    public synchronized boolean isDestroyed() {
        return destroyed;
    }

    @Override
    public void close() {
        destroy();
    }

    @Override
    public String toString() {
        return "TenantIndexKeys[" + tenant + "]";
    }
}
