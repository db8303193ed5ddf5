package io.embedseal.sinks.lucene.encryption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.CorruptIndexException;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FilterDirectory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.store.IndexOutput;
import org.junit.jupiter.api.Test;

/**
 * The encrypted directory against the attacks on its files: every one is shown to work on the bytes (a control that
 * reads) and then to fail, and a whole Lucene index written through it leaves no vector in its files.
 */
class EncryptedDirectoryTest {

    private static final HexFormat HEX = HexFormat.of();

    static IndexKey key(int first) {
        byte[] id = new byte[16];
        byte[] k = new byte[32];
        for (int i = 0; i < 16; i++) {
            id[i] = (byte) (0x40 + i + first);
        }
        for (int i = 0; i < 32; i++) {
            k[i] = (byte) (i + first);
        }
        return new IndexKey(id, k);
    }

    /** Keys as a tenant's key file would give them. */
    static EncryptedDirectory.Keys keys(IndexKey... held) {
        return new EncryptedDirectory.Keys() {
            @Override
            public IndexKey current() {
                return held[0];
            }

            @Override
            public IndexKey byId(byte[] id) {
                return Arrays.stream(held).filter(k -> k.hasId(id)).findFirst().orElse(null);
            }
        };
    }

    static byte[] rawBytes(Directory d, String name) throws IOException {
        try (IndexInput in = d.openInput(name, IOContext.READONCE)) {
            byte[] b = new byte[(int) in.length()];
            in.readBytes(b, 0, b.length);
            return b;
        }
    }

    static void putRaw(Directory d, String name, byte[] bytes) throws IOException {
        if (Arrays.asList(d.listAll()).contains(name)) {
            d.deleteFile(name);
        }
        try (IndexOutput out = d.createOutput(name, IOContext.DEFAULT)) {
            out.writeBytes(bytes, bytes.length);
        }
    }

    static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i % 251);
        }
        return b;
    }

    static byte[] readAll(Directory d, String name) throws IOException {
        try (IndexInput in = d.openInput(name, IOContext.DEFAULT)) {
            byte[] b = new byte[(int) in.length()];
            in.readBytes(b, 0, b.length);
            return b;
        }
    }

    /** The test vector of docs/index-encryption.md, computed independently with Python's cryptography package. */
    @Test
    void matchesTheTestVector() throws Exception {
        IndexKey key = key(0);
        byte[] id = new byte[16];
        byte[] salt = new byte[32];
        for (int i = 0; i < 16; i++) {
            id[i] = (byte) (0x40 + i);
        }
        for (int i = 0; i < 32; i++) {
            salt[i] = (byte) (0x80 + i);
        }
        assertThat(key.id()).isEqualTo(id);
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        byte[] plaintext = pattern(1100);
        try (IndexOutput out = new EncryptedIndexOutput(
                "_0.vec", raw.createOutput("_0.vec", IOContext.DEFAULT), "acme", key, 10, salt)) {
            out.writeBytes(plaintext, plaintext.length);
        }
        byte[] file = rawBytes(raw, "_0.vec");
        assertThat(file).hasSize(1188);
        assertThat(HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(file)))
                .isEqualTo("ac3ded7a867033c67f314834bc5deb3ec88aed60937cb48afa106ec01421dab3");
        assertThat(HEX.formatHex(Arrays.copyOfRange(file, 56 + 1024 + 16, file.length)))
                .isEqualTo(
                        "2415085f8a2f54bca0ce0d2c29af5d6e2bb70ab6c5e8901f8ecebf70c52b016d84f63fa40517d6acabf7478c"
                                + "1b3deb2857fb7ec55b7dd5d91f038fbb90318b0ed60c577110608f64ee1c283bb6c8b141f86a45b4245d7428b373a32c");
        assertThat(HEX.formatHex(key.fileKey(new IndexFileFormat.Header(10, id, salt))))
                .isEqualTo("b79f3b2cd97609a72169ff820ad514cff4e33f1b07977475c7c50e9ee4c7a7e0");
        EncryptedDirectory dir = new EncryptedDirectory(raw, "acme", keys(key), BlockCache.disabled(), 10);
        assertThat(dir.fileLength("_0.vec")).isEqualTo(1100);
        assertThat(readAll(dir, "_0.vec")).isEqualTo(plaintext);
    }

    /** Writes a file of {@code n} bytes through a fresh directory of 1 KiB blocks; returns the directory. */
    static EncryptedDirectory written(
            ByteBuffersDirectory raw, String tenant, String name, byte[] content, IndexKey key) throws IOException {
        EncryptedDirectory dir = new EncryptedDirectory(raw, tenant, keys(key), BlockCache.disabled(), 10);
        try (IndexOutput out = dir.createOutput(name, IOContext.DEFAULT)) {
            out.writeBytes(content, content.length);
        }
        return dir;
    }

    private static final int STRIDE = 1024 + 16;

    @Test
    void anAlteredByteFailsItsBlock() throws Exception {
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        EncryptedDirectory dir = written(raw, "acme", "_0.vec", pattern(3000), key(0));
        byte[] file = rawBytes(raw, "_0.vec");
        byte[] altered = file.clone();
        altered[56 + STRIDE + 10] ^= 1; // in block 1
        putRaw(raw, "_0.vec", altered);
        try (IndexInput in = dir.openInput("_0.vec", IOContext.DEFAULT)) {
            in.seek(100);
            assertThat(in.readByte()).isEqualTo((byte) 100); // block 0 is untouched and reads
            in.seek(1500);
            assertThatThrownBy(in::readByte)
                    .isInstanceOf(CorruptIndexException.class)
                    .hasMessageContaining("block 1 of _0.vec (tenant acme) fails authentication");
        }
        // An altered header changes the file's key: every block fails.
        byte[] header = file.clone();
        header[40] ^= 1; // in the salt
        putRaw(raw, "_0.vec", header);
        assertThatThrownBy(() -> readAll(dir, "_0.vec")).isInstanceOf(CorruptIndexException.class);
    }

    @Test
    void reorderedBlocksFail() throws Exception {
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        EncryptedDirectory dir = written(raw, "acme", "_0.vec", pattern(3000), key(0));
        byte[] file = rawBytes(raw, "_0.vec");
        byte[] swapped = file.clone();
        System.arraycopy(file, 56, swapped, 56 + STRIDE, STRIDE);
        System.arraycopy(file, 56 + STRIDE, swapped, 56, STRIDE);
        putRaw(raw, "_0.vec", swapped);
        assertThatThrownBy(() -> readAll(dir, "_0.vec"))
                .isInstanceOf(CorruptIndexException.class)
                .hasMessageContaining("block 0");
    }

    @Test
    void aFileMovedToAnotherNameOrTenantFails() throws Exception {
        IndexKey shared = key(0);
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        EncryptedDirectory acme = written(raw, "acme", "_0.vec", pattern(3000), shared);
        byte[] file = rawBytes(raw, "_0.vec");
        // Control: the same bytes under the same name read.
        putRaw(raw, "_0.vec", file);
        assertThat(readAll(acme, "_0.vec")).isEqualTo(pattern(3000));
        // Another name in the same index: the name is in every block's associated data.
        putRaw(raw, "_1.vec", file);
        assertThatThrownBy(() -> readAll(acme, "_1.vec")).isInstanceOf(CorruptIndexException.class);
        // Another tenant's index, even one (wrongly) under the same index key: the tenant is bound too.
        ByteBuffersDirectory otherRaw = new ByteBuffersDirectory();
        EncryptedDirectory globex = new EncryptedDirectory(otherRaw, "globex", keys(shared), BlockCache.disabled(), 10);
        putRaw(otherRaw, "_0.vec", file);
        assertThatThrownBy(() -> readAll(globex, "_0.vec")).isInstanceOf(CorruptIndexException.class);
        // And under its own key, the file's key id is not the tenant's.
        EncryptedDirectory globexOwn = new EncryptedDirectory(otherRaw, "globex", keys(key(7)), BlockCache.disabled());
        assertThatThrownBy(() -> readAll(globexOwn, "_0.vec"))
                .isInstanceOf(CorruptIndexException.class)
                .hasMessageContaining("index key tenant globex does not hold");
    }

    @Test
    void truncationFails() throws Exception {
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        EncryptedDirectory dir = written(raw, "acme", "_0.vec", pattern(3000), key(0));
        byte[] file = rawBytes(raw, "_0.vec");
        // At a block boundary: the new last block was not sealed as the last.
        putRaw(raw, "_0.vec", Arrays.copyOf(file, 56 + 2 * STRIDE));
        assertThat(dir.fileLength("_0.vec")).isEqualTo(2048); // the length looks possible...
        assertThatThrownBy(() -> readAll(dir, "_0.vec"))
                .isInstanceOf(CorruptIndexException.class)
                .hasMessageContaining("block 1"); // ...but the last block's tag says otherwise
        // Within a block.
        putRaw(raw, "_0.vec", Arrays.copyOf(file, file.length - 5));
        assertThatThrownBy(() -> readAll(dir, "_0.vec")).isInstanceOf(CorruptIndexException.class);
        // To the header alone.
        putRaw(raw, "_0.vec", Arrays.copyOf(file, 56));
        assertThatThrownBy(() -> dir.openInput("_0.vec", IOContext.DEFAULT))
                .isInstanceOf(CorruptIndexException.class)
                .hasMessageContaining("impossible length");
        // A block appended (the last one again) fails too.
        byte[] appended = Arrays.copyOf(file, file.length + STRIDE);
        System.arraycopy(file, 56 + STRIDE, appended, file.length, STRIDE);
        putRaw(raw, "_0.vec", appended);
        assertThatThrownBy(() -> readAll(dir, "_0.vec")).isInstanceOf(CorruptIndexException.class);
    }

    @Test
    void anEmptyFileHasOneSealedBlock() throws Exception {
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        EncryptedDirectory dir = written(raw, "acme", "empty", new byte[0], key(0));
        assertThat(rawBytes(raw, "empty")).hasSize(56 + 16);
        assertThat(readAll(dir, "empty")).isEmpty();
    }

    @Test
    void aPlaintextFileIsRefused() throws Exception {
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        EncryptedDirectory dir = new EncryptedDirectory(raw, "acme", keys(key(0)), BlockCache.disabled());
        putRaw(raw, "_0.si", pattern(500));
        assertThatThrownBy(() -> dir.openInput("_0.si", IOContext.DEFAULT))
                .isInstanceOf(CorruptIndexException.class)
                .hasMessageContaining("no ESIX header");
    }

    @Test
    void aRandomReadDecryptsOnlyTheBlocksItTouches() throws Exception {
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        BlockCache cache = new BlockCache(1 << 20);
        EncryptedDirectory dir = new EncryptedDirectory(raw, "acme", keys(key(0)), cache, 10);
        byte[] content = pattern(100 * 1024);
        try (IndexOutput out = dir.createOutput("_0.vec", IOContext.DEFAULT)) {
            out.writeBytes(content, content.length);
        }
        try (IndexInput in = dir.openInput("_0.vec", IOContext.DEFAULT)) {
            in.seek(50 * 1024 + 7);
            assertThat(in.readByte()).isEqualTo(content[50 * 1024 + 7]);
            assertThat(cache.size()).isEqualTo(1024); // one block of 100
            IndexInput slice = in.slice("s", 70 * 1024 - 2, 4);
            assertThat(slice.readInt())
                    .isEqualTo(ByteBuffer.wrap(content, 70 * 1024 - 2, 4)
                            .order(ByteOrder.LITTLE_ENDIAN)
                            .getInt());
            assertThat(cache.size()).isEqualTo(3 * 1024); // the int straddled two more
        }
        cache.forgetTenant("acme");
        assertThat(cache.size()).isZero();
    }

    @Test
    void renamesKeepFilesReadable() throws Exception {
        ByteBuffersDirectory raw = new ByteBuffersDirectory();
        EncryptedDirectory dir = written(raw, "acme", "pending_segments_2", pattern(2000), key(0));
        dir.rename("pending_segments_2", "segments_2"); // Lucene's commit: bound to segments_2 on both sides
        assertThat(readAll(dir, "segments_2")).isEqualTo(pattern(2000));
        dir.rename("segments_2", "other"); // anything else is written again under the new name
        assertThat(readAll(dir, "other")).isEqualTo(pattern(2000));
        assertThat(raw.listAll()).containsExactly("other");
    }

    /** Records every byte written to the wrapped directory, temporary files included, before Lucene deletes them. */
    static final class Spy extends FilterDirectory {
        final Map<String, byte[]> written = new ConcurrentHashMap<>();

        Spy(Directory in) {
            super(in);
        }

        private IndexOutput spying(IndexOutput out) {
            java.io.ByteArrayOutputStream copy = new java.io.ByteArrayOutputStream();
            return new IndexOutput(out.toString(), out.getName()) {
                @Override
                public void writeByte(byte b) throws IOException {
                    copy.write(b);
                    out.writeByte(b);
                }

                @Override
                public void writeBytes(byte[] b, int offset, int length) throws IOException {
                    copy.write(b, offset, length);
                    out.writeBytes(b, offset, length);
                }

                @Override
                public long getFilePointer() {
                    return out.getFilePointer();
                }

                @Override
                public long getChecksum() throws IOException {
                    return out.getChecksum();
                }

                @Override
                public void close() throws IOException {
                    out.close();
                    written.put(getName(), copy.toByteArray());
                }
            };
        }

        @Override
        public IndexOutput createOutput(String name, IOContext context) throws IOException {
            return spying(in.createOutput(name, context));
        }

        @Override
        public IndexOutput createTempOutput(String prefix, String suffix, IOContext context) throws IOException {
            return spying(in.createTempOutput(prefix, suffix, context));
        }
    }

    /** How many of the vectors appear in the bytes (their first four floats, as Lucene writes them). */
    static int leaked(Map<String, byte[]> files, List<float[]> vectors) {
        int found = 0;
        for (float[] v : vectors) {
            byte[] needle = new byte[16];
            ByteBuffer.wrap(needle)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putFloat(v[0])
                    .putFloat(v[1])
                    .putFloat(v[2])
                    .putFloat(v[3]);
            for (byte[] f : files.values()) {
                if (indexOf(f, needle) >= 0) {
                    found++;
                    break;
                }
            }
        }
        return found;
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** Writes 300 vectors in three commits, merges them (temporary files) and searches; returns what was written. */
    static void index(Directory dir, List<float[]> vectors) throws IOException {
        try (IndexWriter w = new IndexWriter(dir, new IndexWriterConfig())) {
            for (int i = 0; i < vectors.size(); i++) {
                Document d = new Document();
                d.add(new StringField("id", "e-" + i, Field.Store.YES));
                d.add(new KnnFloatVectorField("v", vectors.get(i), VectorSimilarityFunction.EUCLIDEAN));
                w.addDocument(d);
                if (i % 100 == 99) {
                    w.commit();
                }
            }
            w.forceMerge(1);
            w.commit();
        }
        try (DirectoryReader r = DirectoryReader.open(dir)) {
            IndexSearcher s = new IndexSearcher(r);
            TopDocs top = s.search(new KnnFloatVectorQuery("v", vectors.get(42), 5), 5);
            assertThat(s.storedFields().document(top.scoreDocs[0].doc).get("id"))
                    .isEqualTo("e-42");
            assertThat(r.numDocs()).isEqualTo(vectors.size());
        }
    }

    @Test
    void aLuceneIndexWrittenThroughItHoldsNoVector() throws Exception {
        Random random = new Random(7);
        List<float[]> vectors = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            float[] v = new float[16];
            for (int j = 0; j < v.length; j++) {
                v[j] = random.nextFloat() * 2 - 1;
            }
            vectors.add(v);
        }
        // Positive control: the same index written plainly holds (nearly) every vector.
        Spy plain = new Spy(new ByteBuffersDirectory());
        index(plain, vectors);
        assertThat(leaked(plain.written, vectors)).isEqualTo(vectors.size());

        Spy spy = new Spy(new ByteBuffersDirectory());
        EncryptedDirectory encrypted = new EncryptedDirectory(spy, "acme", keys(key(0)), new BlockCache(1 << 20));
        index(encrypted, vectors);
        assertThat(spy.written.keySet()).anyMatch(n -> n.endsWith(".tmp")); // merges wrote temporary files too
        assertThat(spy.written.values()).allMatch(b -> Arrays.equals(b, 0, 4, IndexFileFormat.MAGIC, 0, 4));
        assertThat(leaked(spy.written, vectors)).isZero();
    }
}
