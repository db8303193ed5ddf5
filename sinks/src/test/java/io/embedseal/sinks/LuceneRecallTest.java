package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.search.SearchHit;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HNSW recall as the sink builds and the search command queries the index: 10,000 random 384-dimension vectors
 * (uniform in [-1, 1] per component, cosine), 100 random queries, recall@10 = share of the exact top 10 that the
 * approximate top 10 finds, with the search command's default number of candidates.
 */
class LuceneRecallTest {

    static final int DOCS = 10_000;
    static final int DIMS = 384;
    static final int QUERIES = 100;
    static final int K = 10;
    static final int CANDIDATES = LuceneSearch.DEFAULT_CANDIDATES;

    @TempDir
    Path tmp;

    @Test
    void recallAt10_isAtLeast95Percent_on10kRandom384DimVectors() {
        Sealed sealed = new Sealed(tmp.resolve("kms"));
        sealed.onboard("acme");
        Path root = tmp.resolve("lucene");
        Random random = new Random(20261128L);
        try (LuceneVectorStore store =
                new LuceneVectorStore(sealed.luceneIndexes(root), LuceneVectorStore.Options.defaults())) {
            for (int i = 0; i < DOCS; i++) {
                store.upsert(sealed.stored("acme", "e-" + i, Sealed.randomVector(random, DIMS), true, i));
            }
            store.commit();
        } finally {
            sealed.close();
        }
        assertThat(TestIndexes.count(root, "acme")).isEqualTo(DOCS);

        int found = 0;
        for (int q = 0; q < QUERIES; q++) {
            float[] query = Sealed.randomVector(random, DIMS);
            Set<String> exact = ids(TestIndexes.exact(root, "acme", query, K));
            Set<String> approximate = ids(TestIndexes.search(root, "acme", query, K, CANDIDATES));
            assertThat(exact).hasSize(K);
            approximate.retainAll(exact);
            found += approximate.size();
        }
        double recall = found / (double) (QUERIES * K);
        System.out.printf(
                "Lucene HNSW recall@%d over %d queries, %d docs x %d dims, %d candidates: %.4f%n",
                K, QUERIES, DOCS, DIMS, CANDIDATES, recall);
        assertThat(recall).isGreaterThanOrEqualTo(0.95);
    }

    private static Set<String> ids(List<SearchHit> hits) {
        Set<String> out = new HashSet<>();
        hits.forEach(h -> out.add(h.embeddingId()));
        return out;
    }
}
