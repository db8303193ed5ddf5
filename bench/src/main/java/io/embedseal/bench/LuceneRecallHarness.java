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
import io.embedseal.sinks.lucene.LuceneIndexes;
import io.embedseal.sinks.lucene.LuceneVectorStore;
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
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;

/**
 * Recall of the Lucene sink's HNSW index against exact search, by graph settings and search candidates: the index
 * is built through the sink's store from sealed records (as the connector does), then queried with random vectors.
 *
 * <pre>java -cp 'bench/target/embedseal-bench.jar:bench/target/lib/*' io.embedseal.bench.LuceneRecallHarness \
 *      [--docs 10000] [--dims 384] [--queries 50] [--graphs 16:32] [--candidates 100,200,400,800] \
 *      [--encryption tenant-key,none] [--index-threads N]</pre>
 */
public final class LuceneRecallHarness {

    public static void main(String[] args) throws Exception {
        int docs = 10_000;
        int dims = 384;
        int queries = 50;
        String graphs = "16:32";
        String candidateList = "100,200,400,800";
        String encryptions = "tenant-key,none";
        int threads = LuceneVectorStore.Options.defaults().indexThreads();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--docs" -> docs = Integer.parseInt(args[++i]);
                case "--dims" -> dims = Integer.parseInt(args[++i]);
                case "--queries" -> queries = Integer.parseInt(args[++i]);
                case "--graphs" -> graphs = args[++i];
                case "--candidates" -> candidateList = args[++i];
                case "--encryption" -> encryptions = args[++i];
                case "--index-threads" -> threads = Integer.parseInt(args[++i]);
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; use --docs N, --dims N, --queries N, --graphs M:BEAM,..., --candidates N,..., "
                            + "--encryption tenant-key,none, --index-threads N");
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
                    "Lucene sink index: %,d random %d-dim vectors (uniform in [-1,1], cosine), %d random queries on "
                            + "an open reader, %d index threads, Java %s%n",
                    docs,
                    dims,
                    queries,
                    threads,
                    System.getProperty("java.version"));
            Random random = new Random(20261128L);
            List<float[]> vectors = new ArrayList<>(docs);
            List<StoredRecord> records = new ArrayList<>(docs);
            for (int i = 0; i < docs; i++) {
                float[] v = vector(random, dims);
                vectors.add(v);
                records.add(record(sealer, unsealer, "e-" + i, v));
            }
            List<float[]> qs = new ArrayList<>();
            List<Set<String>> exact = new ArrayList<>();
            for (int q = 0; q < queries; q++) {
                float[] query = vector(random, dims);
                qs.add(query);
                exact.add(exactTop10(vectors, query));
            }
            for (String graph : graphs.split(",", -1)) {
                int m = Integer.parseInt(graph.split(":", -1)[0]);
                int beam = Integer.parseInt(graph.split(":", -1)[1]);
                int run = 0;
                for (String encryption : encryptions.split(",", -1)) {
                    boolean encrypted = encryption.equals("tenant-key");
                    Path root = dir.resolve("lucene-" + m + "-" + beam + "-" + encryption + "-" + run++);
                    LuceneIndexes indexes = encrypted
                            ? LuceneIndexes.encrypted(root, kms, keyring.naming(), 256L << 20)
                            : LuceneIndexes.plaintext(root);
                    long t0 = System.nanoTime();
                    try (LuceneVectorStore store = new LuceneVectorStore(
                            indexes,
                            new LuceneVectorStore.Options(
                                    VectorSimilarityFunction.COSINE, m, beam, 1, 16.0, threads))) {
                        for (int i = 0; i < docs; i++) {
                            store.upsert(records.get(i));
                            if (i % 1000 == 999) {
                                store.flush();
                            }
                        }
                        store.flush();
                        store.commit();
                    }
                    double buildSeconds = (System.nanoTime() - t0) / 1e9;
                    System.out.printf(
                            Locale.ROOT,
                            "  M=%d beam=%d %s: indexed in %.1f s (%,.0f docs/s)%n",
                            m,
                            beam,
                            encrypted ? "encrypted" : "unencrypted",
                            buildSeconds,
                            docs / buildSeconds);
                    try (LuceneIndexes readIndexes = encrypted
                                    ? LuceneIndexes.encrypted(root, kms, keyring.naming(), 256L << 20)
                                    : LuceneIndexes.plaintext(root);
                            DirectoryReader reader = DirectoryReader.open(
                                    java.util.Objects.requireNonNull(readIndexes.open("bench", false)))) {
                        IndexSearcher searcher = new IndexSearcher(reader);
                        String field = LuceneVectorStore.vectorField(dims);
                        for (String c : candidateList.split(",", -1)) {
                            int candidates = Integer.parseInt(c);
                            for (float[] q : qs.subList(0, Math.min(5, qs.size()))) { // warm-up
                                searcher.search(new KnnFloatVectorQuery(field, q, Math.max(10, candidates)), 10);
                            }
                            int found = 0;
                            long[] nanos = new long[qs.size()];
                            for (int i = 0; i < qs.size(); i++) {
                                long t = System.nanoTime();
                                TopDocs top = searcher.search(
                                        new KnnFloatVectorQuery(field, qs.get(i), Math.max(10, candidates)), 10);
                                nanos[i] = System.nanoTime() - t;
                                Set<String> got = new HashSet<>();
                                for (ScoreDoc sd : top.scoreDocs) {
                                    got.add(searcher.storedFields()
                                            .document(sd.doc)
                                            .get(LuceneVectorStore.ID));
                                }
                                got.retainAll(exact.get(i));
                                found += got.size();
                            }
                            java.util.Arrays.sort(nanos);
                            System.out.printf(
                                    Locale.ROOT,
                                    "    candidates=%-4d recall@10=%.3f  p50 %.2f ms  p99 %.2f ms%n",
                                    candidates,
                                    found / (10.0 * qs.size()),
                                    nanos[nanos.length / 2] / 1e6,
                                    nanos[Math.min(nanos.length - 1, (int) Math.ceil(nanos.length * 0.99) - 1)] / 1e6);
                        }
                    }
                }
            }
        } finally {
            Directories.deleteRecursively(dir);
        }
    }

    private static Set<String> exactTop10(List<float[]> vectors, float[] query) {
        java.util.PriorityQueue<Map.Entry<Integer, Float>> top =
                new java.util.PriorityQueue<>(Map.Entry.comparingByValue());
        for (int i = 0; i < vectors.size(); i++) {
            float score = VectorSimilarityFunction.COSINE.compare(query, vectors.get(i));
            if (top.size() < 10) {
                top.add(Map.entry(i, score));
            } else if (score > top.peek().getValue()) {
                top.poll();
                top.add(Map.entry(i, score));
            }
        }
        Set<String> ids = new HashSet<>();
        top.forEach(e -> ids.add("e-" + e.getKey()));
        return ids;
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
}
