package io.embedseal.sinks.lucene;

import io.embedseal.sinks.ShredRecord;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.sinks.search.TopK;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import org.apache.lucene.document.Document;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.FieldInfos;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.util.Bits;

/**
 * Searches a tenant's Lucene index as the Lucene sink wrote it: approximate (HNSW) or exact (a scan of every
 * vector, for checking recall). A shredded tenant is refused, with what was deleted and when.
 */
public final class LuceneSearch {

    /**
     * Candidates explored by default. On 10,000 random 384-dimension vectors with the sink's default graph (M=16,
     * beam width 100), recall@10 was 0.72 with 100 candidates, 0.89 with 200, 0.97 with 400 and 1.00 with 800, at 5
     * to 11 ms per query (LuceneRecallHarness, docs/sinks.md); real embeddings, which cluster, do better than random ones.
     */
    public static final int DEFAULT_CANDIDATES = 800;

    private LuceneSearch() {}

    /**
     * The {@code k} nearest embeddings by HNSW, exploring {@code max(k, candidates)} candidates (more is slower and
     * closer to exact).
     *
     * @throws SearchRefusedException   if the tenant's data was shredded
     * @throws IllegalArgumentException if the tenant has no index, or none for vectors of the query's dimension
     */
    public static List<SearchHit> search(LuceneIndexes indexes, String tenantId, float[] query, int k, int candidates) {
        return withReader(indexes, tenantId, query.length, (reader, field) -> {
            IndexSearcher searcher = new IndexSearcher(reader);
            TopDocs top = searcher.search(
                    new KnnFloatVectorQuery(field, queryFor(reader, field, query), Math.max(k, candidates)), k);
            StoredFields stored = searcher.storedFields();
            List<SearchHit> hits = new ArrayList<>();
            for (ScoreDoc sd : top.scoreDocs) {
                Document d = stored.document(sd.doc);
                hits.add(new SearchHit(d.get(LuceneVectorStore.ID), sd.score, d.get(LuceneVectorStore.MODEL)));
            }
            return hits;
        });
    }

    /** The exact {@code k} nearest embeddings: every vector of the tenant's index compared with the query. */
    public static List<SearchHit> exact(LuceneIndexes indexes, String tenantId, float[] query, int k) {
        return withReader(indexes, tenantId, query.length, (reader, field) -> {
            float[] q = queryFor(reader, field, query);
            TopK top = new TopK(k);
            for (LeafReaderContext leaf : reader.leaves()) {
                FieldInfo info = leaf.reader().getFieldInfos().fieldInfo(field);
                FloatVectorValues values = leaf.reader().getFloatVectorValues(field);
                if (info == null || values == null) {
                    continue;
                }
                VectorSimilarityFunction similarity = info.getVectorSimilarityFunction();
                Bits live = leaf.reader().getLiveDocs();
                StoredFields stored = leaf.reader().storedFields();
                for (int doc = values.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = values.nextDoc()) {
                    if (live != null && !live.get(doc)) {
                        continue;
                    }
                    float score = similarity.compare(q, values.vectorValue());
                    Document d = stored.document(doc);
                    top.offer(new SearchHit(d.get(LuceneVectorStore.ID), score, d.get(LuceneVectorStore.MODEL)));
                }
            }
            return top.result();
        });
    }

    /**
     * The query as the field compares it: a field of unit vectors (the sink indexes cosine as their dot product) is
     * searched with the query scaled to unit length, which gives cosine's ranking and scores.
     */
    static float[] queryFor(DirectoryReader reader, String field, float[] query) {
        FieldInfo info = FieldInfos.getMergedFieldInfos(reader).fieldInfo(field);
        if (info == null || info.getVectorSimilarityFunction() != VectorSimilarityFunction.DOT_PRODUCT) {
            return query;
        }
        float[] unit = query.clone();
        org.apache.lucene.util.VectorUtil.l2normalize(unit, true);
        return unit;
    }

    /** Live records in an index: its live documents less the tombstones of sealed deletes. */
    static long liveRecords(DirectoryReader reader) throws IOException {
        return (long) reader.numDocs()
                - new org.apache.lucene.search.IndexSearcher(reader)
                        .count(new org.apache.lucene.search.TermQuery(
                                new org.apache.lucene.index.Term(LuceneVectorStore.DELETED, "true")));
    }

    /** Live records in the tenant's committed index (0 if it has none), not counting tombstones. */
    public static long documentCount(LuceneIndexes indexes, String tenantId) {
        try {
            Directory dir = indexes.open(tenantId, false);
            if (dir == null || !DirectoryReader.indexExists(dir)) {
                return 0;
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                return liveRecords(reader);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What the sink recorded when it shredded the tenant, if it did. */
    public static Optional<ShredRecord> shredded(LuceneIndexes indexes, String tenantId) {
        return shredded(indexes.root(), tenantId);
    }

    /** What the sink recorded when it shredded the tenant, if it did. */
    public static Optional<ShredRecord> shredded(Path root, String tenantId) {
        return ShredMarkers.read(root.toAbsolutePath().resolve(".shredded"), tenantId);
    }

    private interface ReaderWork {
        List<SearchHit> apply(DirectoryReader reader, String field) throws IOException;
    }

    private static List<SearchHit> withReader(LuceneIndexes indexes, String tenantId, int dims, ReaderWork work) {
        return withReader(indexes, tenantId, dims, false, work);
    }

    /**
     * Blind mode: the tenant's k nearest among the {@code candidates} nearest ciphertexts. The query is encrypted under
     * the tenant's vector key (unwrapped through its KMS), the index returns the nearest ciphertexts, and their envelopes
     * are unsealed in memory and scored exactly with {@code similarity} (the sink's {@code lucene.similarity}: cosine or
     * euclidean).
     *
     * @throws SearchRefusedException   if the tenant's data was shredded or its KMS refuses its key
     * @throws IllegalArgumentException if the tenant has no blind index for vectors of the query's dimension
     */
    public static List<SearchHit> blind(
            LuceneIndexes indexes,
            String tenantId,
            float[] query,
            int k,
            int candidates,
            io.embedseal.serdes.EmbeddingUnsealer unsealer,
            io.embedseal.sinks.blind.VectorKeys keys,
            VectorSimilarityFunction similarity) {
        if (similarity != VectorSimilarityFunction.COSINE && similarity != VectorSimilarityFunction.EUCLIDEAN) {
            throw new IllegalArgumentException("blind mode scores by cosine or euclidean, not " + similarity);
        }
        return withReader(indexes, tenantId, query.length, true, (reader, field) -> {
            io.embedseal.sinks.blind.VectorKey key;
            try {
                key = keys.get(tenantId, false)
                        .orElseThrow(() -> new IllegalArgumentException("tenant " + tenantId + " has no vector key in "
                                + indexes.root().resolve(tenantId) + ": its index was not written in blind mode"));
            } catch (io.embedseal.keyring.kms.KmsUnavailableException e) {
                throw new IllegalStateException(
                        "the KMS could not open tenant " + tenantId + "'s vector key: " + e.getMessage(), e);
            } catch (io.embedseal.keyring.kms.KmsException e) {
                throw new SearchRefusedException(
                        tenantId,
                        "DENIED",
                        "the KMS refuses tenant " + tenantId + "'s vector key (" + e.getMessage()
                                + "): its vectors cannot be searched");
            }
            float[] q =
                    similarity == VectorSimilarityFunction.COSINE ? io.embedseal.sinks.blind.Dcpe.unit(query) : query;
            float[] encrypted = io.embedseal.sinks.blind.Dcpe.encrypt(key, q).vector();
            IndexSearcher searcher = new IndexSearcher(reader);
            ScoreDoc[] hits =
                    searcher.search(new KnnFloatVectorQuery(field, encrypted, candidates), candidates).scoreDocs;
            int[] docs = new int[hits.length];
            for (int i = 0; i < hits.length; i++) {
                docs[i] = hits[i].doc;
            }
            java.util.Arrays.sort(docs); // doc values are read forwards
            TopK top = new TopK(k);
            java.util.Set<String> seen = new java.util.HashSet<>(); // an index served by others may repeat a record
            int denied = 0;
            java.util.List<LeafReaderContext> leaves = reader.leaves();
            org.apache.lucene.index.BinaryDocValues envelopes = null;
            int leafIndex = -1;
            for (int doc : docs) {
                int li = org.apache.lucene.index.ReaderUtil.subIndex(doc, leaves);
                if (li != leafIndex) {
                    leafIndex = li;
                    envelopes = leaves.get(li).reader().getBinaryDocValues(LuceneVectorStore.ENVELOPE);
                }
                int local = doc - leaves.get(li).docBase;
                if (envelopes == null || !envelopes.advanceExact(local)) {
                    continue;
                }
                org.apache.lucene.util.BytesRef ref = envelopes.binaryValue();
                byte[] envelope = java.util.Arrays.copyOfRange(ref.bytes, ref.offset, ref.offset + ref.length);
                io.embedseal.serdes.UnsealedVector opened;
                String id;
                try {
                    // The id the envelope is bound to (authenticated by the unseal, which also checks the tenant).
                    id = io.embedseal.serdes.envelope.EnvelopeHeader.parse(envelope)
                            .embeddingId();
                    opened = unsealer.unsealVector(
                            new io.embedseal.serdes.SealedRecordKey(tenantId, id).toBytes(), envelope);
                } catch (io.embedseal.serdes.envelope.EnvelopeException e) {
                    switch (e.reason()) {
                        case KMS_UNAVAILABLE, KEY_FAILED ->
                            throw new IllegalStateException(
                                    "the KMS could not open tenant " + tenantId + "'s records: " + e.getMessage(), e);
                        case KEY_REVOKED, KEY_UNKNOWN -> denied++;
                        default -> {
                            // a document that does not open as the tenant's is skipped
                        }
                    }
                    continue;
                }
                if (opened.vector().length == query.length && seen.add(id)) {
                    top.offer(new SearchHit(id, similarity.compare(query, opened.vector()), opened.model()));
                }
            }
            if (docs.length > 0 && denied == docs.length) {
                throw new SearchRefusedException(
                        tenantId,
                        "DENIED",
                        "the KMS refuses tenant " + tenantId + "'s key: its records cannot be opened");
            }
            return top.result();
        });
    }

    private static List<SearchHit> withReader(
            LuceneIndexes indexes, String tenantId, int dims, boolean blind, ReaderWork work) {
        Path root = indexes.root();
        Optional<ShredRecord> shred = shredded(root, tenantId);
        if (shred.isPresent()) {
            throw new SearchRefusedException(
                    tenantId,
                    "DESTROYED",
                    "tenant " + tenantId + "'s key was destroyed: its index was " + "shredded at "
                            + shred.get().shreddedAt() + " (deleted "
                            + shred.get().deleted() + "); nothing can be searched");
        }
        try {
            Directory dir = indexes.open(tenantId, false);
            if (dir == null || !DirectoryReader.indexExists(dir)) {
                throw new IllegalArgumentException("tenant " + tenantId + " has no index under " + root.toAbsolutePath()
                        + " (nothing of it was indexed yet, or the directory is not the Lucene sink's lucene.dir)");
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                String field = blind ? LuceneVectorStore.blindField(dims) : LuceneVectorStore.vectorField(dims);
                FieldInfos infos = FieldInfos.getMergedFieldInfos(reader);
                if (infos.fieldInfo(field) == null) {
                    TreeSet<Integer> present = new TreeSet<>();
                    for (FieldInfo fi : infos) {
                        if (fi.getVectorDimension() > 0) {
                            present.add(fi.getVectorDimension());
                        }
                    }
                    throw new IllegalArgumentException("tenant " + tenantId + "'s index has no "
                            + (blind ? "blind-mode " : "") + "vectors of " + dims + " dimensions (it has: "
                            + (present.isEmpty() ? "none" : present) + ")");
                }
                return work.apply(reader, field);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tenant " + tenantId + "'s index", e);
        }
    }
}
