package io.embedseal.sinks.lucene;

import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.sinks.RecordVersions;
import io.embedseal.sinks.RefusedRecordException;
import io.embedseal.sinks.ShredRecord;
import io.embedseal.sinks.StoreException;
import io.embedseal.sinks.StoredRecord;
import io.embedseal.sinks.VectorStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.lucene912.Lucene912Codec;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.jspecify.annotations.Nullable;

/**
 * One Lucene index per tenant under a root directory ({@code <root>/<tenant>}): a document per embedding, keyed by
 * its id (upserts replace), with the vector in an HNSW field named after its dimension ({@code vector.384}), so a
 * tenant may index models of different sizes side by side. Writers are opened on demand, at most
 * {@code maxOpenWriters} at once; {@link #commit()} commits every index written since the last commit.
 * Shredding a tenant rolls back its writer, deletes the index directory and records a marker under
 * {@code <root>/.shredded/}.
 */
public final class LuceneVectorStore implements VectorStore {

    /** The stored id field (also the term for upserts and deletes). */
    public static final String ID = "id";

    public static final String MODEL = "model";
    public static final String KEK = "kek";
    public static final String SOURCE = "source";
    /** The record version (envelope v2), 16 bytes, stored; and its two halves as doc values for lookups. */
    public static final String VERSION = "version";

    static final String VERSION_TIME = "version.time";
    static final String VERSION_SEQUENCE = "version.sequence";
    static final String TOMBSTONE = "tombstone";
    static final String SOURCE_TOPIC = "source.topic";
    static final String SOURCE_PARTITION = "source.partition";
    static final String SOURCE_OFFSET = "source.offset";
    /** Marks a tombstone: a sealed delete's version, kept so that an older record cannot come back. No vector. */
    public static final String DELETED = "deleted";
    /** The vector field of vectors with {@code dims} dimensions. */
    public static String vectorField(int dims) {
        return "vector." + dims;
    }

    /** How new indexes are built. */
    public record Options(
            VectorSimilarityFunction similarity, int maxConn, int beamWidth, int maxOpenWriters, double ramBufferMb) {
        public static Options defaults() {
            return new Options(VectorSimilarityFunction.COSINE, 16, 100, 64, 16.0);
        }
    }

    private final Path root;
    private final Options options;
    private final ShredMarkers markers;
    private final LinkedHashMap<String, IndexWriter> writers = new LinkedHashMap<>(16, 0.75f, true);
    private final java.util.Set<String> dirty = new java.util.HashSet<>();
    /** Per tenant, the committed index as last read, for the versions it holds. */
    private final Map<String, DirectoryReader> readers = new LinkedHashMap<>(16, 0.75f, true);
    /** Per tenant, versions written since its last commit (empty: deleted unchecked). */
    private final Map<String, Map<String, Optional<RecordVersions.Held>>> recent = new java.util.HashMap<>();
    /** Off only in a test that shows the rollback it prevents. */
    private final boolean enforceVersions;

    public LuceneVectorStore(Path root, Options options) {
        this(root, options, true);
    }

    /** Test only: {@code enforceVersions=false} lets an older record replace a newer one, as before envelope v2. */
    public LuceneVectorStore(Path root, Options options, boolean enforceVersions) {
        this.enforceVersions = enforceVersions;
        this.root = root.toAbsolutePath();
        this.options = options;
        try {
            Files.createDirectories(this.root);
        } catch (IOException e) {
            throw new StoreException("cannot create the Lucene directory " + this.root + " (lucene.dir)", e, false);
        }
        this.markers = new ShredMarkers(this.root.resolve(".shredded"));
    }

    /** The directory of a tenant's index. Tenant ids are restricted to {@code [A-Za-z0-9][A-Za-z0-9._-]*}. */
    public static Path tenantDir(Path root, String tenantId) {
        return root.resolve(tenantId);
    }

    /** The codec every embedseal index is written with: Lucene's default, with vectors up to 4096 dimensions. */
    static IndexWriterConfig writerConfig(Options options) {
        KnnVectorsFormat vectors = new WideHnswVectorsFormat(options.maxConn(), options.beamWidth());
        IndexWriterConfig c = new IndexWriterConfig();
        c.setCodec(new Lucene912Codec() {
            @Override
            public KnnVectorsFormat getKnnVectorsFormatForField(String field) {
                return vectors;
            }
        });
        c.setCommitOnClose(false); // only commit() commits, so the index never runs ahead of Connect's offsets unasked
        c.setRAMBufferSizeMB(options.ramBufferMb());
        return c;
    }

    @Override
    public String describe() {
        return "lucene index per tenant under " + root;
    }

    @Override
    public boolean needsPlaintext() {
        return true;
    }

    /** What the tenant's index holds for the id: written since the last commit, or committed. */
    private RecordVersions.@Nullable Held held(SealedRecordKey key) {
        Map<String, Optional<RecordVersions.Held>> fresh = recent.get(key.tenantId());
        Optional<RecordVersions.Held> v = fresh == null ? null : fresh.get(key.embeddingId());
        if (v != null) {
            return v.orElse(null);
        }
        try {
            DirectoryReader reader = committedReader(key.tenantId());
            return reader == null ? null : committedHeld(reader, key.embeddingId());
        } catch (IOException e) {
            throw new StoreException("cannot read tenant " + key.tenantId() + "'s index", e, true);
        }
    }

    private @Nullable DirectoryReader committedReader(String tenant) throws IOException {
        DirectoryReader reader = readers.get(tenant);
        if (reader != null) {
            return reader;
        }
        Path dir = tenantDir(root, tenant);
        if (!Files.isDirectory(dir)) {
            return null;
        }
        FSDirectory d = FSDirectory.open(dir);
        if (!DirectoryReader.indexExists(d)) {
            return null;
        }
        reader = DirectoryReader.open(d);
        readers.put(tenant, reader);
        if (readers.size() > options.maxOpenWriters()) { // bounded like the writers: the least recently used goes
            String eldest = readers.keySet().iterator().next();
            if (!eldest.equals(tenant)) {
                closeReader(eldest);
            }
        }
        return reader;
    }

    /** The version of the live document with this id, or null; a document from before envelope v2 has none. */
    public static @Nullable RecordVersion committedVersion(DirectoryReader reader, String id) throws IOException {
        RecordVersions.Held h = committedHeld(reader, id);
        return h == null ? null : h.version();
    }

    /** What the live document with this id holds, or null if there is none. */
    static RecordVersions.@Nullable Held committedHeld(DirectoryReader reader, String id) throws IOException {
        BytesRef term = new BytesRef(id);
        for (LeafReaderContext leaf : reader.leaves()) {
            Terms terms = leaf.reader().terms(ID);
            if (terms == null) {
                continue;
            }
            TermsEnum te = terms.iterator();
            if (!te.seekExact(term)) {
                continue;
            }
            Bits live = leaf.reader().getLiveDocs();
            PostingsEnum docs = te.postings(null, PostingsEnum.NONE);
            for (int doc = docs.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = docs.nextDoc()) {
                if (live != null && !live.get(doc)) {
                    continue;
                }
                RecordVersion version = new RecordVersion(
                        Math.max(0, numeric(leaf, VERSION_TIME, doc)),
                        Math.max(0, numeric(leaf, VERSION_SEQUENCE, doc)));
                Document stored = leaf.reader().storedFields().document(doc, java.util.Set.of(SOURCE_TOPIC, DELETED));
                String topic = stored.get(SOURCE_TOPIC);
                return new RecordVersions.Held(
                        version,
                        numeric(leaf, TOMBSTONE, doc) == 1 || stored.get(DELETED) != null,
                        topic == null ? "" : topic,
                        (int) numeric(leaf, SOURCE_PARTITION, doc),
                        topic == null ? Long.MAX_VALUE : numeric(leaf, SOURCE_OFFSET, doc));
            }
        }
        return null;
    }

    /** A document's numeric doc value, 0 if it has none (documents from before envelope v2). */
    private static long numeric(LeafReaderContext leaf, String field, int doc) throws IOException {
        NumericDocValues values = leaf.reader().getNumericDocValues(field);
        return values != null && values.advanceExact(doc) ? values.longValue() : 0;
    }

    private void remember(SealedRecordKey key, Optional<RecordVersions.Held> version) {
        recent.computeIfAbsent(key.tenantId(), t -> new java.util.HashMap<>()).put(key.embeddingId(), version);
    }

    /** The version and where the record came from, as a document keeps them. */
    private static RecordVersions.Held addVersion(Document doc, StoredRecord r, boolean tombstone) {
        RecordVersion v = r.header().recordVersion();
        doc.add(new StoredField(VERSION, v.toBytes()));
        doc.add(new NumericDocValuesField(VERSION_TIME, v.eventTimeMillis()));
        doc.add(new NumericDocValuesField(VERSION_SEQUENCE, v.sequence()));
        doc.add(new NumericDocValuesField(TOMBSTONE, tombstone ? 1 : 0));
        doc.add(new StoredField(SOURCE_TOPIC, r.sourceTopic()));
        doc.add(new NumericDocValuesField(SOURCE_PARTITION, r.sourcePartition()));
        doc.add(new NumericDocValuesField(SOURCE_OFFSET, r.sourceOffset()));
        return new RecordVersions.Held(v, tombstone, r.sourceTopic(), r.sourcePartition(), r.sourceOffset());
    }

    @Override
    public boolean upsert(StoredRecord r) {
        if (enforceVersions && RecordVersions.check(r, false, held(r.key())) == RecordVersions.Verdict.REDELIVERED) {
            return false;
        }
        float[] vector = r.vector();
        Document doc = new Document();
        doc.add(new StringField(ID, r.key().embeddingId(), Field.Store.YES));
        RecordVersions.Held after = addVersion(doc, r, false);
        try {
            doc.add(new KnnFloatVectorField(vectorField(vector.length), vector, options.similarity()));
        } catch (IllegalArgumentException e) {
            throw new RefusedRecordException(
                    RefusedRecordException.Reason.NOT_STORABLE,
                    r.key() + ": Lucene refuses the vector (" + vector.length + " dimensions)");
        }
        doc.add(new StoredField(MODEL, r.unsealed().event().getModel()));
        doc.add(new StoredField(KEK, r.header().kek().toString()));
        doc.add(new StoredField(SOURCE, r.sourceTopic() + "-" + r.sourcePartition() + "@" + r.sourceOffset()));
        String tenant = r.key().tenantId();
        try {
            writer(tenant).updateDocument(new Term(ID, r.key().embeddingId()), doc);
            remember(r.key(), Optional.of(after));
        } catch (IllegalArgumentException e) {
            // e.g. the index was created with another similarity for this field; the message names fields, not values
            throw new RefusedRecordException(
                    RefusedRecordException.Reason.NOT_STORABLE, r.key() + ": " + e.getMessage());
        } catch (IOException e) {
            throw new StoreException("cannot write tenant " + tenant + "'s index", e, false);
        }
        dirty.add(tenant);
        return true;
    }

    @Override
    public boolean delete(StoredRecord marker) {
        SealedRecordKey key = marker.key();
        if (enforceVersions && RecordVersions.check(marker, true, held(key)) == RecordVersions.Verdict.REDELIVERED) {
            return false;
        }
        Document tombstone = new Document();
        tombstone.add(new StringField(ID, key.embeddingId(), Field.Store.YES));
        tombstone.add(new StringField(DELETED, "true", Field.Store.YES));
        tombstone.add(new StoredField(KEK, marker.header().kek().toString()));
        RecordVersions.Held after = addVersion(tombstone, marker, true);
        try {
            writer(key.tenantId()).updateDocument(new Term(ID, key.embeddingId()), tombstone);
        } catch (IOException e) {
            throw new StoreException("cannot delete from tenant " + key.tenantId() + "'s index", e, false);
        }
        remember(key, Optional.of(after));
        dirty.add(key.tenantId());
        return true;
    }

    @Override
    public void deleteUnchecked(SealedRecordKey key) {
        if (!writers.containsKey(key.tenantId()) && !Files.isDirectory(tenantDir(root, key.tenantId()))) {
            return;
        }
        try {
            writer(key.tenantId()).deleteDocuments(new Term(ID, key.embeddingId()));
        } catch (IOException e) {
            throw new StoreException("cannot delete from tenant " + key.tenantId() + "'s index", e, false);
        }
        remember(key, Optional.empty());
        dirty.add(key.tenantId());
    }

    private IndexWriter writer(String tenant) throws IOException {
        IndexWriter w = writers.get(tenant);
        if (w != null) {
            return w;
        }
        if (writers.size() >= options.maxOpenWriters()) {
            Iterator<Map.Entry<String, IndexWriter>> eldest = writers.entrySet().iterator();
            Map.Entry<String, IndexWriter> e = eldest.next();
            // Committing ahead of Connect's offsets is safe: replayed records are upserts of the same documents.
            commitOne(e.getKey(), e.getValue());
            e.getValue().close();
            closeReader(e.getKey());
            eldest.remove();
        }
        w = new IndexWriter(FSDirectory.open(tenantDir(root, tenant)), writerConfig(options));
        writers.put(tenant, w);
        return w;
    }

    @Override
    public void flush() {
        // Lucene buffers in memory and flushes segments itself; durability comes with commit().
    }

    @Override
    public void commit() {
        for (String tenant : new ArrayList<>(dirty)) {
            IndexWriter w = writers.get(tenant);
            if (w != null) {
                commitOne(tenant, w);
            }
        }
        dirty.clear();
    }

    private void commitOne(String tenant, IndexWriter w) {
        try {
            w.commit();
            dirty.remove(tenant);
            // What was written is committed now: read it from the index again from here on.
            DirectoryReader reader = readers.get(tenant);
            if (reader != null) {
                DirectoryReader newer = DirectoryReader.openIfChanged(reader);
                if (newer != null) {
                    reader.close();
                    readers.put(tenant, newer);
                }
            }
            recent.remove(tenant);
        } catch (IOException e) {
            throw new StoreException("cannot commit tenant " + tenant + "'s index", e, true);
        }
    }

    @Override
    public Optional<ShredRecord> shredRecord(String tenantId) {
        return markers.read(tenantId);
    }

    @Override
    public ShredRecord shred(TenantState destroyed) {
        String tenant = destroyed.tenantId();
        Optional<ShredRecord> done = markers.read(tenant);
        if (done.isPresent()) {
            return done.get();
        }
        IndexWriter open = writers.remove(tenant);
        dirty.remove(tenant);
        recent.remove(tenant);
        closeReader(tenant);
        try {
            if (open != null) {
                open.rollback(); // drop what was never committed, and the write lock
            }
            Path dir = tenantDir(root, tenant);
            long documents = 0;
            long files = 0;
            long bytes = 0;
            if (Files.isDirectory(dir)) {
                if (DirectoryReader.indexExists(FSDirectory.open(dir))) {
                    try (DirectoryReader reader = DirectoryReader.open(FSDirectory.open(dir))) {
                        documents = LuceneSearch.liveRecords(reader);
                    }
                }
                List<Path> all;
                try (var walk = Files.walk(dir)) {
                    all = walk.sorted(java.util.Comparator.reverseOrder()).toList();
                }
                for (Path p : all) {
                    if (Files.isRegularFile(p)) {
                        files++;
                        bytes += Files.size(p);
                    }
                    Files.delete(p);
                }
            }
            ShredRecord record = new ShredRecord(
                    tenant,
                    Map.of("documents", documents, "files", files, "bytes", bytes),
                    Map.of(),
                    Instant.now(),
                    false);
            markers.write(record);
            return record;
        } catch (IOException | UncheckedIOException e) {
            throw new StoreException("cannot delete tenant " + tenant + "'s index", e, true);
        }
    }

    @Override
    public void markReceipted(String tenantId) {
        markers.read(tenantId).ifPresent(r -> markers.write(r.withReceipt()));
    }

    private void closeReader(String tenant) {
        DirectoryReader reader = readers.remove(tenant);
        if (reader != null) {
            try {
                reader.close();
            } catch (IOException e) {
                // closing
            }
        }
    }

    @Override
    public void close() {
        for (String tenant : new ArrayList<>(readers.keySet())) {
            closeReader(tenant);
        }
        recent.clear();
        for (Map.Entry<String, IndexWriter> e : writers.entrySet()) {
            try {
                e.getValue().rollback(); // uncommitted work is redelivered by Connect: its offsets were not committed
                // either
            } catch (IOException ex) {
                // closing anyway
            }
        }
        writers.clear();
        dirty.clear();
    }
}
