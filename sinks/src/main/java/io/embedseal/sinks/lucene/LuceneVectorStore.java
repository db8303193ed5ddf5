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
import io.embedseal.sinks.blind.Dcpe;
import io.embedseal.sinks.blind.VectorKey;
import io.embedseal.sinks.blind.VectorKeys;
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
import org.apache.lucene.document.BinaryDocValuesField;
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
import org.apache.lucene.store.Directory;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.VectorUtil;
import org.jspecify.annotations.Nullable;

/**
 * One Lucene index per tenant under a root directory ({@code <root>/<tenant>}): a document per embedding, keyed by
 * its id (upserts replace), with the vector in an HNSW field named after its dimension ({@code vector.384}), so a
 * tenant may index models of different sizes side by side. Every file is encrypted under the tenant's own index key
 * (see {@link LuceneIndexes}) unless configured otherwise. Writers are opened on demand, at most
 * {@code maxOpenWriters} at once; {@link #commit()} commits every index written since the last commit.
 * A tenant no longer ACTIVE ({@link #tenantChanged}) has its writer committed and closed, its reader closed and its
 * index key destroyed in memory at once. Shredding a tenant rolls back its writer, deletes the index directory (its
 * wrapped index key with it) and records a marker under {@code <root>/.shredded/}.
 *
 * <p>Thread-safe: the task's thread writes, the key-event follower's thread closes tenants.
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

    /** Blind mode: the field of encrypted vectors (DCPE, Euclidean) with {@code dims} dimensions. */
    public static String blindField(int dims) {
        return "blind." + dims;
    }

    /** Blind mode: the sealed envelope, as binary doc values (re-ranking reads k′ of them at random). */
    public static final String ENVELOPE = "envelope";

    /** Blind mode: the id of the vector key a document's vector is encrypted under. */
    public static final String BLIND_KEY = "blind.key";

    /** How new indexes are built. */
    public record Options(
            VectorSimilarityFunction similarity,
            int maxConn,
            int beamWidth,
            int maxOpenWriters,
            double ramBufferMb,
            int indexThreads,
            long commitIntervalMs) {

        /** Threads that add documents to the indexes by default: one per core, at most four. */
        public static final int DEFAULT_INDEX_THREADS =
                Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));

        /** The least time between two commits while records keep coming (each commit flushes a segment per tenant). */
        public static final long DEFAULT_COMMIT_INTERVAL_MS = 10_000;

        public Options {
            if (indexThreads < 1) {
                throw new IllegalArgumentException("indexThreads must be at least 1");
            }
            if (commitIntervalMs < 0) {
                throw new IllegalArgumentException("commitIntervalMs must not be negative");
            }
        }

        public Options(
                VectorSimilarityFunction similarity,
                int maxConn,
                int beamWidth,
                int maxOpenWriters,
                double ramBufferMb,
                int indexThreads) {
            this(similarity, maxConn, beamWidth, maxOpenWriters, ramBufferMb, indexThreads, DEFAULT_COMMIT_INTERVAL_MS);
        }

        public Options(
                VectorSimilarityFunction similarity,
                int maxConn,
                int beamWidth,
                int maxOpenWriters,
                double ramBufferMb) {
            this(similarity, maxConn, beamWidth, maxOpenWriters, ramBufferMb, DEFAULT_INDEX_THREADS);
        }

        /** M=16 and a build beam of 32 (see docs/sinks.md for what it costs in recall and buys in speed). */
        public static Options defaults() {
            return new Options(VectorSimilarityFunction.COSINE, 16, 32, 64, 16.0);
        }
    }

    private final Path root;
    private final LuceneIndexes indexes;
    /** Blind mode: the tenants' vector keys; null in index mode. */
    private final @Nullable VectorKeys blindKeys;

    private final Options options;
    private final ShredMarkers markers;
    private final LinkedHashMap<String, IndexWriter> writers = new LinkedHashMap<>(16, 0.75f, true);
    private final java.util.Set<String> dirty = new java.util.HashSet<>();
    /** Per tenant, the committed index as last read, for the versions it holds. */
    private final Map<String, DirectoryReader> readers = new LinkedHashMap<>(16, 0.75f, true);

    /**
     * Tenants whose index had no commit when last looked, while this store holds their writer: its write lock means
     * only this store's own commit changes that, so until then {@link #committedReader} need not look again (a new
     * tenant's records otherwise listed its directory and opened it for every record until the first commit).
     * Forgotten at that commit and whenever the writer or reader goes.
     */
    private final java.util.Set<String> uncommitted = new java.util.HashSet<>();
    /** Per tenant, versions written since its last commit (empty: deleted unchecked). */
    private final Map<String, Map<String, Optional<RecordVersions.Held>>> recent = new java.util.HashMap<>();
    /** Off only in a test that shows the rollback it prevents. */
    private final boolean enforceVersions;

    /** Live records of tenants DESTROYED since this store opened, counted with the key before it was destroyed. */
    private final Map<String, Long> countedAtDestruction = new java.util.HashMap<>();

    /** Per tenant, until when its index key is not asked for again after it failed to open (and why). */
    private final Map<String, KeyFailure> keyFailures = new java.util.HashMap<>();

    private record KeyFailure(long until, RefusedRecordException why) {}

    private static final long KEY_FAILURE_COOLDOWN_NANOS =
            java.time.Duration.ofSeconds(30).toNanos();

    /**
     * Where documents are added, when {@code indexThreads > 1}: one single-threaded lane per thread, a record's lane
     * chosen by its tenant and id, so the operations on one id keep their order while different ids (of one tenant or
     * several) are indexed in parallel (building the HNSW graph is most of the cost). Drained at the end of every
     * {@code put} ({@link #flush}) and before anything commits, closes or shreds.
     */
    private final java.util.concurrent.ExecutorService @Nullable [] lanes;

    /** Operations handed to the lanes, oldest first; at most {@link #MAX_IN_FLIGHT}, so memory stays bounded. */
    private final java.util.ArrayDeque<java.util.concurrent.Future<?>> inFlight = new java.util.ArrayDeque<>();

    private static final int MAX_IN_FLIGHT = 2048;

    /** Each tenant's lane, dealt round-robin as tenants appear (a hash can put most tenants on one lane). */
    private final Map<String, Integer> laneOf = new java.util.HashMap<>();

    private int nextLane;
    /**
     * Per tenant, the similarity of each vector field its open writer has taken a document for (the first one is
     * written here, so a field mismatch shows at once).
     */
    private final Map<String, Map<String, VectorSimilarityFunction>> fieldSimilarity = new java.util.HashMap<>();

    /**
     * How a field's vectors are indexed. Cosine is indexed as the dot product of unit vectors (the same ranking and
     * scores, with a third of the arithmetic per comparison, which is most of building the graph); a field an index
     * already holds keeps the similarity it was created with (an index written with cosine before stays so).
     */
    private VectorSimilarityFunction indexedSimilarity(String tenant, String field) {
        VectorSimilarityFunction configured = options.similarity();
        if (configured != VectorSimilarityFunction.COSINE) {
            return configured;
        }
        try {
            DirectoryReader reader = committedReader(tenant);
            if (reader != null) {
                org.apache.lucene.index.FieldInfo existing = org.apache.lucene.index.FieldInfos.getMergedFieldInfos(
                                reader)
                        .fieldInfo(field);
                if (existing != null
                        && existing.getVectorDimension() > 0
                        && existing.getVectorSimilarityFunction() == VectorSimilarityFunction.COSINE) {
                    return VectorSimilarityFunction.COSINE;
                }
            }
        } catch (IOException | RuntimeException e) {
            throw tenantFault(tenant, e, "read");
        }
        return VectorSimilarityFunction.DOT_PRODUCT;
    }

    private interface WriterOp {
        void run() throws IOException;
    }

    /** A store over {@code indexes}, which it owns (and closes, destroying every index key in memory). */
    public LuceneVectorStore(LuceneIndexes indexes, Options options) {
        this(indexes, options, true);
    }

    /** Test only: {@code enforceVersions=false} lets an older record replace a newer one, as before envelope v2. */
    public LuceneVectorStore(LuceneIndexes indexes, Options options, boolean enforceVersions) {
        this(indexes, options, enforceVersions, null);
    }

    /**
     * A store in blind mode when {@code blindKeys} is given (the tenants' vector keys, which it owns): each vector is
     * indexed encrypted under its tenant's vector key (scale-and-perturb DCPE, Euclidean), beside its sealed envelope.
     */
    public LuceneVectorStore(
            LuceneIndexes indexes, Options options, boolean enforceVersions, @Nullable VectorKeys blindKeys) {
        if (blindKeys != null
                && options.similarity() != VectorSimilarityFunction.COSINE
                && options.similarity() != VectorSimilarityFunction.EUCLIDEAN) {
            throw new IllegalArgumentException("blind mode preserves Euclidean distances only: similarity "
                    + options.similarity() + " cannot be served (use cosine or euclidean)");
        }
        this.blindKeys = blindKeys;
        this.enforceVersions = enforceVersions;
        this.indexes = indexes;
        this.root = indexes.root();
        this.options = options;
        try {
            Files.createDirectories(this.root);
        } catch (IOException e) {
            throw new StoreException("cannot create the Lucene directory " + this.root + " (lucene.dir)", e, false);
        }
        this.markers = new ShredMarkers(this.root.resolve(".shredded"));
        if (options.indexThreads() > 1) {
            lanes = new java.util.concurrent.ExecutorService[options.indexThreads()];
            for (int i = 0; i < lanes.length; i++) {
                String name = "embedseal-lucene-index-" + i;
                lanes[i] = java.util.concurrent.Executors.newSingleThreadExecutor(task -> {
                    Thread t = new Thread(task, name);
                    t.setDaemon(true);
                    return t;
                });
            }
        } else {
            lanes = null;
        }
    }

    /** Runs a writer operation on the record's lane (or here, with one index thread). */
    private void submit(SealedRecordKey key, WriterOp op) throws IOException {
        java.util.concurrent.ExecutorService[] l = lanes;
        if (l == null) {
            op.run();
            return;
        }
        // By tenant: one tenant's documents go to one thread, so a commit flushes one segment per tenant, not one per
        // thread (HNSW merges of many small segments cost more than the parallel build saves). A tenant keeps its lane,
        // so the operations on one id keep their order.
        int lane = laneOf.computeIfAbsent(key.tenantId(), t -> nextLane++ % l.length);
        inFlight.add(l[lane].submit(() -> {
            op.run();
            return null;
        }));
        while (inFlight.size() > MAX_IN_FLIGHT) {
            await(inFlight.poll());
        }
    }

    /**
     * A lane's failure: every later {@link #flush} and {@link #commit} throws it (a non-retriable store error, so the
     * task restarts from the offsets last committed), whichever thread drained it (a key event's drain cannot swallow
     * it and let Connect commit the failed record's offset).
     */
    private @Nullable Throwable laneFailure;

    /** Waits for every operation handed to the lanes; a failure is thrown (the batch is then redelivered). */
    private void drain() {
        if (inFlight.isEmpty()) {
            throwLaneFailure();
            return;
        }
        while (!inFlight.isEmpty()) {
            await(inFlight.poll());
        }
        throwLaneFailure();
    }

    /** Waits for one operation; its failure is kept (the first one) and never cleared: the task must restart. */
    private void await(java.util.concurrent.Future<?> f) {
        try {
            f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            laneFailure = laneFailure == null ? e.getCause() : laneFailure;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            laneFailure = laneFailure == null ? e : laneFailure;
        }
    }

    /** Forgets the operations that have finished, keeping a failure among them; waits for none. */
    private void reap() {
        while (!inFlight.isEmpty() && inFlight.peek().isDone()) {
            await(inFlight.poll());
        }
        throwLaneFailure();
    }

    private void throwLaneFailure() {
        Throwable failure = laneFailure;
        if (failure != null) {
            throw new StoreException("cannot write a tenant's index: " + failure, failure, false);
        }
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
        return "lucene index per tenant under " + root
                + (indexes.encrypted() ? ", encrypted under each tenant's index key" : ", unencrypted");
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
        } catch (IOException | RuntimeException e) {
            throw tenantFault(key.tenantId(), e, "read");
        }
    }

    /**
     * What a failure to open one tenant's index becomes: a tampered or corrupt index (a file that fails its tag, a
     * foreign key) or a key its KMS refuses refuses that tenant's records for a cool-down (KEY_FAILED), and the other
     * tenants go on; an unreachable KMS is retriable; anything else fails as a store error.
     */
    private RuntimeException tenantFault(String tenant, Exception e, String what) {
        if (e instanceof RefusedRecordException r) {
            return r;
        }
        if (e instanceof StoreException s) {
            return s;
        }
        if (e instanceof io.embedseal.keyring.kms.KmsUnavailableException) {
            return new StoreException("tenant " + tenant + "'s index key: the KMS is unreachable", e, true);
        }
        if (e instanceof io.embedseal.keyring.kms.KmsException
                || e instanceof org.apache.lucene.index.CorruptIndexException
                || e instanceof org.apache.lucene.index.IndexFormatTooOldException
                || e instanceof org.apache.lucene.index.IndexFormatTooNewException) {
            RefusedRecordException why = new RefusedRecordException(
                    RefusedRecordException.Reason.KEY_FAILED,
                    "tenant " + tenant + "'s index cannot be opened (" + e.getMessage() + "); its records are set "
                            + "aside for a while, the other tenants' go on");
            keyFailures.put(tenant, new KeyFailure(System.nanoTime() + KEY_FAILURE_COOLDOWN_NANOS, why));
            closeReader(tenant);
            if (!writers.containsKey(tenant)) {
                // Reopening reads the key file again. An open writer keeps its key: what it holds is committed with
                // the others' (its records' offsets may be committed), and it takes nothing new meanwhile.
                indexes.forget(tenant);
            }
            return why;
        }
        if (e instanceof RuntimeException r) {
            return r;
        }
        return new StoreException("cannot " + what + " tenant " + tenant + "'s index", e, what.equals("read"));
    }

    private @Nullable DirectoryReader committedReader(String tenant) throws IOException {
        DirectoryReader reader = readers.get(tenant);
        if (reader != null) {
            return reader;
        }
        boolean writing = writers.containsKey(tenant);
        if (writing && uncommitted.contains(tenant)) {
            return null;
        }
        Directory d = directory(tenant, false);
        if (d == null || !DirectoryReader.indexExists(d)) {
            if (writing) {
                uncommitted.add(tenant);
            }
            return null;
        }
        uncommitted.remove(tenant);
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

    /**
     * Blind mode: the tenant's vector key, made on its first record. A key its KMS refuses, or one wrapped under another
     * KEK than the tenant's, refuses the record (KEY_FAILED); an unreachable KMS is retriable.
     */
    private VectorKey vectorKey(String tenant) {
        try {
            return java.util.Objects.requireNonNull(blindKeys).get(tenant, true).orElseThrow();
        } catch (io.embedseal.keyring.kms.KmsUnavailableException e) {
            throw new StoreException("tenant " + tenant + "'s vector key: the KMS is unreachable", e, true);
        } catch (io.embedseal.keyring.kms.KmsException e) {
            throw new RefusedRecordException(
                    RefusedRecordException.Reason.KEY_FAILED,
                    "tenant " + tenant + "'s vector key does not open: " + e.getMessage());
        }
    }

    /**
     * Blind mode on a tenant index that index mode wrote: its plaintext vectors would stay beside the ciphertexts.
     * The tenant's records are refused (set aside, still sealed) naming the setting, until its index is rebuilt.
     */
    private void refusePlaintextFields(String tenant) {
        try {
            DirectoryReader reader = committedReader(tenant);
            if (reader == null) {
                return;
            }
            for (org.apache.lucene.index.FieldInfo f : org.apache.lucene.index.FieldInfos.getMergedFieldInfos(reader)) {
                if (f.getVectorDimension() > 0 && f.name.startsWith("vector.")) {
                    throw new RefusedRecordException(
                            RefusedRecordException.Reason.NOT_STORABLE,
                            "lucene.mode=blind, but tenant " + tenant + "'s index holds plaintext vectors written in "
                                    + "index mode, which blind mode would leave there: rebuild the tenant's index "
                                    + "(delete its directory and replay its records) or keep lucene.mode=index");
                }
            }
        } catch (IOException | RuntimeException e) {
            throw tenantFault(tenant, e, "read");
        }
    }

    /** Whether vectors are indexed encrypted under the tenants' vector keys. */
    public boolean blindMode() {
        return blindKeys != null;
    }

    @Override
    public synchronized boolean upsert(StoredRecord r) {
        if (enforceVersions && RecordVersions.check(r, false, held(r.key())) == RecordVersions.Verdict.REDELIVERED) {
            return false;
        }
        float[] vector = r.vector();
        String tenant = r.key().tenantId();
        String field = blindKeys == null ? vectorField(vector.length) : blindField(vector.length);
        IndexWriter w;
        try {
            w = writer(tenant);
        } catch (IOException e) {
            throw new StoreException("cannot write tenant " + tenant + "'s index", e, false);
        }
        Map<String, VectorSimilarityFunction> fields =
                fieldSimilarity.computeIfAbsent(tenant, t -> new java.util.HashMap<>());
        VectorSimilarityFunction similarity = fields.get(field);
        boolean first = similarity == null;
        if (similarity == null) {
            similarity = blindKeys == null ? indexedSimilarity(tenant, field) : VectorSimilarityFunction.EUCLIDEAN;
        }
        float[] indexed = vector;
        byte[] blindKey = null;
        if (blindKeys != null) {
            if (first) {
                refusePlaintextFields(tenant);
            }
            float[] plain = vector;
            if (options.similarity() == VectorSimilarityFunction.COSINE) {
                try {
                    plain = Dcpe.unit(vector);
                } catch (IllegalArgumentException e) {
                    throw new RefusedRecordException(
                            RefusedRecordException.Reason.NOT_STORABLE,
                            r.key() + ": a zero vector has no direction to compare by cosine");
                }
            }
            VectorKey key = null;
            for (int attempt = 0; key == null; attempt++) {
                key = vectorKey(tenant);
                try {
                    indexed = Dcpe.encrypt(key, plain).vector();
                } catch (IllegalStateException destroyed) {
                    key = null; // a key event destroyed it meanwhile: ask again, and the KMS decides
                    if (attempt > 0) {
                        throw new RefusedRecordException(
                                RefusedRecordException.Reason.KEY_FAILED,
                                "tenant " + tenant + "'s vector key was destroyed while in use");
                    }
                } catch (IllegalArgumentException e) {
                    throw new RefusedRecordException(
                            RefusedRecordException.Reason.NOT_STORABLE, r.key() + ": " + e.getMessage());
                }
            }
            blindKey = key.id();
        } else if (similarity == VectorSimilarityFunction.DOT_PRODUCT
                && options.similarity() == VectorSimilarityFunction.COSINE) {
            indexed = vector.clone();
            try {
                VectorUtil.l2normalize(indexed, true);
            } catch (IllegalArgumentException e) {
                throw new RefusedRecordException(
                        RefusedRecordException.Reason.NOT_STORABLE,
                        r.key() + ": a zero vector has no direction to compare by cosine");
            }
        }
        Document doc = new Document();
        doc.add(new StringField(ID, r.key().embeddingId(), Field.Store.YES));
        RecordVersions.Held after = addVersion(doc, r, false);
        try {
            doc.add(new KnnFloatVectorField(field, indexed, similarity));
        } catch (IllegalArgumentException e) {
            throw new RefusedRecordException(
                    RefusedRecordException.Reason.NOT_STORABLE,
                    r.key() + ": Lucene refuses the vector (" + vector.length + " dimensions)");
        }
        if (blindKey != null) {
            // The model is in the envelope; the index (perhaps served by someone without the key) holds no more.
            doc.add(new BinaryDocValuesField(ENVELOPE, new BytesRef(r.envelope())));
            doc.add(new StoredField(BLIND_KEY, blindKey));
        } else {
            doc.add(new StoredField(MODEL, r.unsealed().event().getModel()));
        }
        doc.add(new StoredField(KEK, r.header().kek().toString()));
        doc.add(new StoredField(SOURCE, r.sourceTopic() + "-" + r.sourcePartition() + "@" + r.sourceOffset()));
        try {
            Term id = new Term(ID, r.key().embeddingId());
            if (!first) {
                submit(r.key(), () -> w.updateDocument(id, doc));
            } else {
                // The first document of a field in this writer, here: if the index holds the field with another
                // similarity, Lucene refuses it now, and only this record is refused.
                drain();
                w.updateDocument(id, doc);
                fields.put(field, similarity);
            }
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
    public synchronized boolean delete(StoredRecord marker) {
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
            IndexWriter w = writer(key.tenantId());
            submit(key, () -> w.updateDocument(new Term(ID, key.embeddingId()), tombstone));
        } catch (IOException e) {
            throw new StoreException("cannot delete from tenant " + key.tenantId() + "'s index", e, false);
        }
        remember(key, Optional.of(after));
        dirty.add(key.tenantId());
        return true;
    }

    @Override
    public synchronized void deleteUnchecked(SealedRecordKey key) {
        if (!writers.containsKey(key.tenantId()) && !Files.isDirectory(tenantDir(root, key.tenantId()))) {
            return;
        }
        try {
            IndexWriter w = writer(key.tenantId());
            submit(key, () -> w.deleteDocuments(new Term(ID, key.embeddingId())));
        } catch (IOException e) {
            throw new StoreException("cannot delete from tenant " + key.tenantId() + "'s index", e, false);
        }
        remember(key, Optional.empty());
        dirty.add(key.tenantId());
    }

    /**
     * The tenant's directory, its index key unwrapped through its KMS if not yet in memory. A key that does not open
     * refuses the tenant's records (KEY_FAILED) for a cool-down without asking again, and touches no other tenant; an
     * unreachable KMS is a retriable store failure.
     */
    private @Nullable Directory directory(String tenant, boolean create) throws IOException {
        KeyFailure failed = keyFailures.get(tenant);
        if (failed != null) {
            if (System.nanoTime() - failed.until() < 0) {
                throw failed.why();
            }
            keyFailures.remove(tenant);
        }
        try {
            return indexes.open(tenant, create);
        } catch (io.embedseal.keyring.kms.KmsUnavailableException e) {
            throw new StoreException("tenant " + tenant + "'s index key: the KMS is unreachable", e, true);
        } catch (io.embedseal.keyring.kms.KmsException | IOException e) {
            if (e instanceof java.nio.file.NoSuchFileException || e instanceof java.nio.file.AccessDeniedException) {
                throw (IOException) e;
            }
            RefusedRecordException why = new RefusedRecordException(
                    RefusedRecordException.Reason.KEY_FAILED,
                    "tenant " + tenant + "'s index key does not open: " + e.getMessage());
            keyFailures.put(tenant, new KeyFailure(System.nanoTime() + KEY_FAILURE_COOLDOWN_NANOS, why));
            throw why;
        }
    }

    private IndexWriter writer(String tenant) throws IOException {
        IndexWriter w = writers.get(tenant);
        if (w != null) {
            return w;
        }
        if (writers.size() >= options.maxOpenWriters()) {
            Iterator<Map.Entry<String, IndexWriter>> eldest = writers.entrySet().iterator();
            Map.Entry<String, IndexWriter> e = eldest.next();
            drain();
            fieldSimilarity.remove(e.getKey());
            // Committing ahead of Connect's offsets is safe: replayed records are upserts of the same documents.
            commitOne(e.getKey(), e.getValue());
            e.getValue().close();
            closeReader(e.getKey());
            indexes.forget(e.getKey()); // its key leaves memory with its writer; reopening asks the KMS
            eldest.remove();
        }
        try {
            w = new IndexWriter(java.util.Objects.requireNonNull(directory(tenant, true)), writerConfig(options));
        } catch (IOException | RuntimeException e) {
            throw tenantFault(tenant, e, "write");
        }
        writers.put(tenant, w);
        return w;
    }

    @Override
    public synchronized void flush() {
        // The lanes go on indexing while Connect fetches and the task unseals the next batch; commit() waits for them.
        // Lucene buffers in memory and flushes segments itself; durability comes with commit().
        reap();
    }

    @Override
    public synchronized boolean commitIfDue(boolean idle) {
        if (!idle && !dirty.isEmpty() && System.nanoTime() - lastCommit < options.commitIntervalMs() * 1_000_000L) {
            return false;
        }
        commit();
        return true;
    }

    /** When {@link #commit} last ran (nanoTime). */
    private long lastCommit = System.nanoTime();

    @Override
    public synchronized void commit() {
        lastCommit = System.nanoTime();
        drain();
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
            uncommitted.remove(tenant);
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
    public synchronized Optional<ShredRecord> shredRecord(String tenantId) {
        return markers.read(tenantId);
    }

    @Override
    public synchronized ShredRecord shred(TenantState destroyed) {
        String tenant = destroyed.tenantId();
        Optional<ShredRecord> done = markers.read(tenant);
        if (done.isPresent()) {
            return done.get();
        }
        drain();
        fieldSimilarity.remove(tenant);
        IndexWriter open = writers.remove(tenant);
        dirty.remove(tenant);
        recent.remove(tenant);
        uncommitted.remove(tenant);
        DirectoryReader lastRead = readers.remove(tenant);
        try {
            if (open != null) {
                open.rollback(); // drop what was never committed, and the write lock
            }
            Path dir = tenantDir(root, tenant);
            // The key is destroyed, so an encrypted index cannot be read to count it: the count is what this task
            // last read of it, if it read it; the files and bytes are counted either way.
            Long counted = countedAtDestruction.remove(tenant);
            long documents = counted == null ? -1 : counted;
            if (lastRead != null) {
                lastRead.close();
            }
            if (documents < 0) {
                documents = countWithoutKms(tenant);
            }
            indexes.forget(tenant);
            if (blindKeys != null) {
                blindKeys.forget(tenant); // its key file goes with the directory
            }
            keyFailures.remove(tenant);
            long files = 0;
            long bytes = 0;
            if (Files.isDirectory(dir)) {
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
            Map<String, Long> deleted = new LinkedHashMap<>();
            if (documents >= 0) {
                deleted.put("documents", documents);
            }
            deleted.put("files", files);
            deleted.put("bytes", bytes);
            ShredRecord record = new ShredRecord(tenant, deleted, Map.of(), Instant.now(), false);
            markers.write(record);
            return record;
        } catch (IOException | UncheckedIOException e) {
            throw new StoreException("cannot delete tenant " + tenant + "'s index", e, true);
        }
    }

    @Override
    public synchronized void markReceipted(String tenantId) {
        markers.read(tenantId).ifPresent(r -> markers.write(r.withReceipt()));
    }

    private void closeReader(String tenant) {
        uncommitted.remove(tenant);
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
    public synchronized void close() {
        try {
            drain();
        } catch (StoreException e) {
            // closing: uncommitted work is redelivered
        }
        if (lanes != null) {
            for (java.util.concurrent.ExecutorService lane : lanes) {
                lane.shutdownNow();
            }
        }
        fieldSimilarity.clear();
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
        uncommitted.clear();
        dirty.clear();
        indexes.close(); // every index key in memory destroyed
        if (blindKeys != null) {
            blindKeys.close();
        }
    }

    /**
     * The tenant's live records, read with its index key if it is still in memory (never asking the KMS, whose key is
     * meant to be gone), or from plain files; -1 if neither.
     */
    private long countWithoutKms(String tenant) throws IOException {
        if (indexes.encrypted() && indexes.keys(tenant) == null) {
            return -1;
        }
        Directory d = indexes.open(tenant, false);
        if (d == null || !DirectoryReader.indexExists(d)) {
            return 0;
        }
        try (DirectoryReader reader = DirectoryReader.open(d)) {
            return LuceneSearch.liveRecords(reader);
        }
    }

    /**
     * Follows a tenant's key events. Not ACTIVE (REVOKED, DESTROYED): its writer is committed (REVOKED: what was
     * written is kept, its offsets may be committed next) or rolled back (DESTROYED: shredded next) and closed, its
     * reader closed, its index key destroyed and the blocks it decrypted dropped; reopening after RESTORED asks the
     * KMS again. ROTATED: an index key wrapped under an older version of the tenant's KEK is wrapped again under the
     * current one (one KMS call when the index is open here); replaying old events at start-up costs nothing.
     */
    @Override
    public synchronized void tenantChanged(TenantState state, boolean rotated) {
        String tenant = state.tenantId();
        keyFailures.remove(tenant); // its authority acted on its key: ask the KMS again
        if (state.status() != io.embedseal.keyring.tenant.TenantStatus.ACTIVE) {
            try {
                drain();
            } catch (StoreException e) {
                // the writer is closed below either way; the batch that failed is redelivered
            }
            fieldSimilarity.remove(tenant);
            IndexWriter w = writers.remove(tenant);
            recent.remove(tenant);
            closeReader(tenant);
            if (w != null) {
                try {
                    if (state.status() == io.embedseal.keyring.tenant.TenantStatus.REVOKED && dirty.contains(tenant)) {
                        w.commit();
                    }
                    w.close();
                } catch (IOException | RuntimeException e) {
                    try {
                        w.rollback();
                    } catch (IOException ignored) {
                        // closing anyway
                    }
                }
            }
            dirty.remove(tenant);
            if (state.status() == io.embedseal.keyring.tenant.TenantStatus.DESTROYED) {
                try {
                    long n = countWithoutKms(tenant); // for the shred receipt: afterwards nothing can read it
                    if (n >= 0) {
                        countedAtDestruction.put(tenant, n);
                    }
                } catch (IOException | RuntimeException e) {
                    // the receipt counts files and bytes only
                }
            }
            indexes.forget(tenant);
            if (blindKeys != null) {
                blindKeys.forget(tenant); // only the KMS can give it back
            }
            return;
        }
        if (rotated && blindKeys != null) {
            try {
                var stored = new LuceneVectorKeys(root).read(tenant);
                if (stored.isPresent()
                        && (state.kms() == null || stored.get().kek().provider().equals(state.kms()))
                        && (state.kekName() == null
                                || stored.get().kek().keyName().equals(state.kekName()))
                        && stored.get().kek().version() < state.kekVersion()) {
                    blindKeys.rewrap(tenant);
                }
            } catch (RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(LuceneVectorStore.class)
                        .warn(
                                "could not re-wrap tenant {}'s vector key under its rotated KEK: {}",
                                tenant,
                                e.getMessage());
            }
        }
        if (rotated && indexes.encrypted()) {
            try {
                var file = io.embedseal.sinks.lucene.encryption.IndexKeyFile.read(tenantDir(root, tenant));
                if (file.isPresent()
                        && file.get().keys().stream().anyMatch(e -> e.kek().version() < state.kekVersion())) {
                    boolean wasOpen = indexes.keys(tenant) != null;
                    indexes.rewrap(tenant);
                    if (!wasOpen && !writers.containsKey(tenant) && !readers.containsKey(tenant)) {
                        indexes.forget(tenant);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // The old wrap still opens while the old version is enabled; tried again on the next rotation.
                org.slf4j.LoggerFactory.getLogger(LuceneVectorStore.class)
                        .warn(
                                "could not re-wrap tenant {}'s index key under its rotated KEK: {}",
                                tenant,
                                e.getMessage());
            }
        }
    }
}
