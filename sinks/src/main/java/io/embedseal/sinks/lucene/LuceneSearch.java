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
                String field = LuceneVectorStore.vectorField(dims);
                FieldInfos infos = FieldInfos.getMergedFieldInfos(reader);
                if (infos.fieldInfo(field) == null) {
                    TreeSet<Integer> present = new TreeSet<>();
                    for (FieldInfo fi : infos) {
                        if (fi.getVectorDimension() > 0) {
                            present.add(fi.getVectorDimension());
                        }
                    }
                    throw new IllegalArgumentException("tenant " + tenantId + "'s index has no vectors of " + dims
                            + " dimensions (it has: " + (present.isEmpty() ? "none" : present) + ")");
                }
                return work.apply(reader, field);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tenant " + tenantId + "'s index", e);
        }
    }
}
