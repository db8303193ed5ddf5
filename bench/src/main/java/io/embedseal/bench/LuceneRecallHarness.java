package io.embedseal.bench;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.StoredRecord;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.testkit.Directories;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.lucene.index.VectorSimilarityFunction;

/**
 * Recall of the Lucene sink's HNSW index against exact search, by graph settings and search candidates: the index
 * is built through the sink's store from sealed records (as the connector does), then queried with random vectors.
 *
 * <pre>java -cp 'bench/target/embedseal-bench.jar:bench/target/lib/*' io.embedseal.bench.LuceneRecallHarness \
 *      [--docs 10000] [--dims 384] [--queries 50] [--graphs 16:100,32:200] [--candidates 100,200,400,800]</pre>
 */
public final class LuceneRecallHarness {

    public static void main(String[] args) throws Exception {
        int docs = 10_000;
        int dims = 384;
        int queries = 50;
        String graphs = "16:100,32:200";
        String candidateList = "100,200,400,800";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--docs" -> docs = Integer.parseInt(args[++i]);
                case "--dims" -> dims = Integer.parseInt(args[++i]);
                case "--queries" -> queries = Integer.parseInt(args[++i]);
                case "--graphs" -> graphs = args[++i];
                case "--candidates" -> candidateList = args[++i];
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; use --docs N, --dims N, --queries N, --graphs M:BEAM,..., --candidates N,...");
            }
        }
        Path dir = Files.createTempDirectory("embedseal-recall-");
        try (LocalKms kms = new LocalKms(dir.resolve("kms"))) {
            Keyring keyring =
                    Keyring.builder(kms).createMissingKeys(kms::createKek).build();
            Sealer sealer = new Sealer(keyring);
            EmbeddingUnsealer unsealer = new EmbeddingUnsealer(sealer, null);
            System.out.printf(
                    Locale.ROOT,
                    "recall@10 of the Lucene sink's index: %,d random %d-dim vectors (uniform in [-1,1], cosine), "
                            + "%d random queries, Java %s%n",
                    docs,
                    dims,
                    queries,
                    System.getProperty("java.version"));
            for (String graph : graphs.split(",", -1)) {
                int m = Integer.parseInt(graph.split(":", -1)[0]);
                int beam = Integer.parseInt(graph.split(":", -1)[1]);
                Path root = dir.resolve("lucene-" + m + "-" + beam);
                Random random = new Random(20261128L);
                long buildNanos = 0;
                try (LuceneVectorStore store = new LuceneVectorStore(
                        root, new LuceneVectorStore.Options(VectorSimilarityFunction.COSINE, m, beam, 1, 16.0))) {
                    for (int i = 0; i < docs; i++) {
                        StoredRecord r = record(sealer, unsealer, "e-" + i, vector(random, dims));
                        long t = System.nanoTime();
                        store.upsert(r);
                        buildNanos += System.nanoTime() - t;
                    }
                    long t = System.nanoTime();
                    store.commit();
                    buildNanos += System.nanoTime() - t;
                }
                List<float[]> qs = new ArrayList<>();
                for (int q = 0; q < queries; q++) {
                    qs.add(vector(random, dims));
                }
                List<Set<String>> exact = new ArrayList<>();
                for (float[] q : qs) {
                    exact.add(ids(LuceneSearch.exact(root, "bench", q, 10)));
                }
                System.out.printf(
                        Locale.ROOT,
                        "  M=%d beam=%d: indexed in %.1f s (%,.0f docs/s)%n",
                        m,
                        beam,
                        buildNanos / 1e9,
                        docs / (buildNanos / 1e9));
                for (String c : candidateList.split(",", -1)) {
                    int candidates = Integer.parseInt(c);
                    int found = 0;
                    long t = System.nanoTime();
                    for (int i = 0; i < qs.size(); i++) {
                        Set<String> got = ids(LuceneSearch.search(root, "bench", qs.get(i), 10, candidates));
                        got.retainAll(exact.get(i));
                        found += got.size();
                    }
                    System.out.printf(
                            Locale.ROOT,
                            "    candidates=%-4d recall@10=%.3f  %.1f ms/query%n",
                            candidates,
                            found / (10.0 * qs.size()),
                            (System.nanoTime() - t) / 1e6 / qs.size());
                }
            }
        } finally {
            Directories.deleteRecursively(dir);
        }
    }

    private static float[] vector(Random random, int dims) {
        float[] v = new float[dims];
        for (int i = 0; i < dims; i++) {
            v[i] = random.nextFloat() * 2 - 1;
        }
        return v;
    }

    private static StoredRecord record(Sealer sealer, EmbeddingUnsealer unsealer, String id, float[] v) {
        List<Float> list = new ArrayList<>(v.length);
        for (float f : v) {
            list.add(f);
        }
        EmbeddingEvent e = EmbeddingEvent.newBuilder()
                .setTenantId("bench")
                .setEmbeddingId(id)
                .setModel("bench")
                .setVector(list)
                .setMetadata(Map.of())
                .setEventTime(Instant.EPOCH)
                .build();
        byte[] envelope = sealer.seal(
                "bench",
                id,
                io.embedseal.serdes.envelope.RecordVersion.now(),
                PayloadType.EMBEDDING_EVENT_AVRO,
                EmbeddingEventCodec.toCanonicalAvro(e));
        SealedRecordKey key = new SealedRecordKey("bench", id);
        return new StoredRecord(
                key, EnvelopeHeader.parse(envelope), envelope, unsealer.unseal(key.toBytes(), envelope), "bench", 0, 0);
    }

    private static Set<String> ids(List<SearchHit> hits) {
        Set<String> out = new HashSet<>();
        hits.forEach(h -> out.add(h.embeddingId()));
        return out;
    }
}
