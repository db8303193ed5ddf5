package io.embedseal.sinks.lucene.encryption;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Collection;
import java.util.Objects;
import org.apache.lucene.index.CorruptIndexException;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FilterDirectory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.store.IndexOutput;
import org.jspecify.annotations.Nullable;

/**
 * A tenant's Lucene index with every file encrypted under the tenant's index key ({@link IndexFileFormat}): what the
 * wrapped directory stores is ciphertext only, temporary and merge files included. Names, sizes (rounded to blocks)
 * and the times files are written stay visible; contents do not.
 *
 * <p>A file's name is authenticated with every block, so a rename is a re-encryption, except Lucene's commit rename
 * ({@code pending_segments_N} to {@code segments_N}), which both sides name {@code segments_N}.
 */
public final class EncryptedDirectory extends FilterDirectory {

    /** The keys a tenant's files may be under. */
    public interface Keys {
        /** The key new files are written under. */
        IndexKey current() throws IOException;

        /** The key with this id, or null if the tenant holds none (a file of another tenant or an older key). */
        @Nullable
        IndexKey byId(byte[] id) throws IOException;
    }

    private static final String PENDING = "pending_";
    private static final String RENAMING = "es-renaming-";
    /** embedseal's own files beside an index (its key files), which are not Lucene's: never listed to Lucene. */
    static final String EMBEDSEAL_FILES = "embedseal-";

    private final String tenant;
    private final Keys keys;
    private final BlockCache cache;
    private final int blockShift;
    private final SecureRandom random = new SecureRandom();

    public EncryptedDirectory(Directory raw, String tenant, Keys keys, BlockCache cache) {
        this(raw, tenant, keys, cache, IndexFileFormat.DEFAULT_BLOCK_SHIFT);
    }

    public EncryptedDirectory(Directory raw, String tenant, Keys keys, BlockCache cache, int blockShift) {
        super(raw);
        if (blockShift < IndexFileFormat.MIN_BLOCK_SHIFT || blockShift > IndexFileFormat.MAX_BLOCK_SHIFT) {
            throw new IllegalArgumentException("block shift " + blockShift + " outside "
                    + IndexFileFormat.MIN_BLOCK_SHIFT + ".." + IndexFileFormat.MAX_BLOCK_SHIFT);
        }
        this.tenant = Objects.requireNonNull(tenant);
        this.keys = Objects.requireNonNull(keys);
        this.cache = Objects.requireNonNull(cache);
        this.blockShift = blockShift;
    }

    public String tenant() {
        return tenant;
    }

    /** The name a file's blocks are bound to: Lucene's commit rename keeps it. */
    static String boundName(String name) {
        return name.startsWith(PENDING) ? name.substring(PENDING.length()) : name;
    }

    private IndexOutput encrypting(String boundName, IndexOutput raw) throws IOException {
        try {
            byte[] salt = new byte[IndexFileFormat.SALT_BYTES];
            random.nextBytes(salt);
            return new EncryptedIndexOutput(boundName, raw, tenant, keys.current(), blockShift, salt);
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    @Override
    public IndexOutput createOutput(String name, IOContext context) throws IOException {
        return encrypting(boundName(name), in.createOutput(name, context));
    }

    @Override
    public IndexOutput createTempOutput(String prefix, String suffix, IOContext context) throws IOException {
        IndexOutput raw = in.createTempOutput(prefix, suffix, context);
        return encrypting(raw.getName(), raw);
    }

    @Override
    public IndexInput openInput(String name, IOContext context) throws IOException {
        IndexInput raw = in.openInput(name, context);
        try {
            if (raw.length() < IndexFileFormat.HEADER_BYTES) {
                throw new CorruptIndexException(
                        "too short for an encrypted index file (" + raw.length() + " bytes)", name);
            }
            byte[] h = new byte[IndexFileFormat.HEADER_BYTES];
            raw.readBytes(h, 0, h.length);
            IndexFileFormat.Header header = IndexFileFormat.parseHeader(h, name);
            IndexKey key = keys.byId(header.keyId());
            if (key == null) {
                throw new CorruptIndexException(
                        "written under an index key tenant " + tenant + " does not hold ("
                                + java.util.HexFormat.of().formatHex(header.keyId())
                                + "): another tenant's file, or an older "
                                + "key's",
                        name);
            }
            EncryptedFile file = new EncryptedFile(tenant, boundName(name), raw, key, header, cache);
            return new EncryptedIndexInput("EncryptedIndexInput(" + name + ")", file);
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    @Override
    public long fileLength(String name) throws IOException {
        long rawLength = in.fileLength(name);
        int shift = blockShift;
        if (rawLength >= IndexFileFormat.HEADER_BYTES) {
            try (IndexInput raw = in.openInput(name, IOContext.READONCE)) {
                raw.seek(5);
                shift = raw.readByte();
            }
        }
        long plain = shift < IndexFileFormat.MIN_BLOCK_SHIFT || shift > IndexFileFormat.MAX_BLOCK_SHIFT
                ? -1
                : IndexFileFormat.plaintextLength(rawLength, shift);
        if (plain < 0) {
            throw new CorruptIndexException(
                    "not an encrypted index file of a possible length (" + rawLength + ")", name);
        }
        return plain;
    }

    @Override
    public void deleteFile(String name) throws IOException {
        in.deleteFile(name);
    }

    @Override
    public void rename(String source, String dest) throws IOException {
        if (boundName(source).equals(boundName(dest))) {
            in.rename(source, dest);
            return;
        }
        // Another name: the blocks are bound to the old one, so they are written again under the new (then renamed
        // into place, so the destination appears whole or not at all).
        String staging = RENAMING + dest;
        try (IndexInput from = openInput(source, IOContext.READONCE);
                IndexOutput to = encrypting(boundName(dest), in.createOutput(staging, IOContext.DEFAULT))) {
            to.copyBytes(from, from.length());
        }
        in.sync(java.util.List.of(staging));
        in.rename(staging, dest);
        in.deleteFile(source);
    }

    /** The id of the index key a file is written under (read from its header, nothing decrypted). */
    public byte[] keyIdOf(String name) throws IOException {
        try (IndexInput raw = in.openInput(name, IOContext.READONCE)) {
            byte[] h = new byte[IndexFileFormat.HEADER_BYTES];
            if (raw.length() < h.length) {
                throw new CorruptIndexException("too short for an encrypted index file", name);
            }
            raw.readBytes(h, 0, h.length);
            return IndexFileFormat.parseHeader(h, name).keyId();
        }
    }

    /**
     * Writes a file again under the current key (re-encryption): decrypted block by block under the key it names,
     * encrypted under a fresh salt and the current key into a staging file, synced, then renamed over the original,
     * so the name always holds a whole file. The caller holds the index's write lock.
     */
    public void rewrite(String name) throws IOException {
        String staging = RENAMING + name;
        try (IndexInput from = openInput(name, IOContext.READONCE);
                IndexOutput to = encrypting(boundName(name), in.createOutput(staging, IOContext.DEFAULT))) {
            to.copyBytes(from, from.length());
        }
        in.sync(java.util.List.of(staging));
        in.rename(staging, name);
    }

    @Override
    public void sync(Collection<String> names) throws IOException {
        in.sync(names);
    }

    @Override
    public String[] listAll() throws IOException {
        return Arrays.stream(in.listAll())
                .filter(n -> !n.startsWith(RENAMING) && !n.startsWith(EMBEDSEAL_FILES))
                .toArray(String[]::new);
    }

    @Override
    public String toString() {
        return "EncryptedDirectory(" + tenant + ", " + in + ")";
    }
}
