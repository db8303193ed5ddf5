package io.embedseal.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.app.search.Search;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.sinks.EmbedsealSinkConfig;
import io.embedseal.sinks.ShredReceipts;
import io.embedseal.sinks.lucene.LuceneIndexes;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneSinkConnector;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.testkit.EmbeddedConnect;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.VectorLeakScanner;
import io.embedseal.topology.TopicNames;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.jspecify.annotations.Nullable;

/**
 * The demo's sink half: an in-process Kafka Connect worker running the Lucene sink on the sealed topic, a search per
 * tenant under its key, and one tenant's key destroyed to show its index shredded, with a receipt, and its search
 * refused. Unlike the checks before it, this stage changes the tenants' keys, so it runs last.
 */
final class DemoSinkStage implements AutoCloseable {

    static final String CONNECTOR = "embedseal-lucene";

    /** What the stage found. */
    record Summary(
            SortedMap<String, Long> indexed,
            SortedMap<String, SearchCheck> searches,
            SortedMap<String, Answer> answers,
            @Nullable Destroyed destroyed,
            IndexLeaks leaks,
            double seconds) {}

    /** A question to a tenant's index: its text, its embedding, and the sentence behind an embedding id. */
    record Question(String text, float[] vector, java.util.function.Function<String, @Nullable String> sentence) {}

    /** What a question found: the top hits with their scores and sentences. */
    record Answer(String question, List<Hit> hits) {}

    record Hit(String id, double score, @Nullable String sentence) {}

    /**
     * The leak scanner over the index directories' files: the sink's (encrypted under each tenant's index key), scanned
     * while it indexed and after, and the unencrypted control's, which indexed the same records with
     * {@code lucene.encryption=none}.
     */
    record IndexLeaks(boolean encrypted, long plaintextHits, long filesScanned, long controlHits) {}

    /** The control sink: the same records, indexed with {@code lucene.encryption=none}. */
    static final String CONTROL_CONNECTOR = "embedseal-lucene-unencrypted-control";

    /** A search with one of the tenant's own vectors: its embedding must come first. */
    record SearchCheck(String query, @Nullable String topHit, double score, boolean ok) {}

    /**
     * @param tenant    the tenant whose key was destroyed (null if the demo had one tenant only)
     * @param deleted   what the sink's receipt says it deleted
     * @param indexGone whether the tenant's index directory is gone
     * @param refusal   what a search of the tenant answered
     */
    record Destroyed(
            String tenant,
            Map<String, Object> deleted,
            boolean indexGone,
            @Nullable String refusal) {}

    /** Where the sink sets aside records it cannot index (none, in the demo). */
    static String deadLetterTopic(TopicNames topics) {
        return topics.sealed() + ".sink-dlq";
    }

    private final EmbeddedConnect connect;
    private final Path luceneDir;
    private final Path controlDir;

    private DemoSinkStage(EmbeddedConnect connect, Path luceneDir, Path controlDir) {
        this.connect = connect;
        this.luceneDir = luceneDir;
        this.controlDir = controlDir;
    }

    /** Starts the worker and the Lucene sink, which waits for sealed records. */
    static DemoSinkStage start(
            EmbeddedKafkaBroker broker, TopicNames topics, Map<String, String> keyringSettings, Path dataDir) {
        Path luceneDir = dataDir.resolve("lucene");
        Path controlDir = dataDir.resolve("lucene-unencrypted-control");
        EmbeddedConnect connect = EmbeddedConnect.start(
                broker.bootstrapServers(),
                dataDir.resolve("connect.offsets"),
                Map.of("offset.flush.interval.ms", "500"));
        try {
            Map<String, String> c = new HashMap<>(keyringSettings);
            c.put("connector.class", LuceneSinkConnector.class.getName());
            c.put("topics", topics.sealed());
            c.put(LuceneSinkConfig.DIR, luceneDir.toString());
            c.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, broker.bootstrapServers());
            c.put(EmbedsealSinkConfig.KEY_EVENTS_TOPIC, topics.keyEvents());
            c.put(EmbedsealSinkConfig.AUDIT_TOPIC, topics.audit());
            c.put("kms.create-missing-keys", "false");
            c.put("errors.tolerance", "all");
            c.put("errors.deadletterqueue.topic.name", deadLetterTopic(topics));
            c.put("errors.deadletterqueue.topic.replication.factor", "1");
            connect.putConnector(CONNECTOR, c);
            Map<String, String> control = new HashMap<>(c);
            control.put(LuceneSinkConfig.DIR, controlDir.toString());
            control.put(LuceneSinkConfig.ENCRYPTION, "none");
            connect.putConnector(CONTROL_CONNECTOR, control);
            connect.awaitRunning(CONNECTOR, EmbeddedConnect.startTimeout());
            connect.awaitRunning(CONTROL_CONNECTOR, EmbeddedConnect.startTimeout());
            return new DemoSinkStage(connect, luceneDir, controlDir);
        } catch (RuntimeException e) {
            connect.close();
            throw e;
        }
    }

    /**
     * Waits for every tenant's records in its index, searches each tenant with one of its own vectors, then destroys
     * the last tenant's key and checks the shredding reached the index.
     *
     * @param queries per tenant: an embedding id and its vector
     */
    Summary run(
            DemoOperator operator,
            TopicNames topics,
            KeyringSettings keyringSettings,
            Map<String, Integer> expected,
            Map<String, Map.Entry<String, float[]>> queries,
            Map<String, Question> questions,
            Duration timeout,
            List<String> failures,
            Function<String, List<ConsumerRecord<byte[], byte[]>>> readToEnd,
            VectorLeakScanner scanner)
            throws Exception {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        SortedMap<String, Long> indexed = new TreeMap<>();
        SortedMap<String, Long> controlIndexed = new TreeMap<>();
        Keyring keyring =
                KmsProviders.keyring(keyringSettings.with(Map.of("kms.create-missing-keys", "false")), null, null);
        long plaintextHits = 0;
        long filesScanned = 0;
        try (LuceneIndexes indexes = LuceneIndexes.encrypted(luceneDir, keyring.kms(), keyring.naming(), 16 << 20);
                LuceneIndexes control = LuceneIndexes.plaintext(controlDir)) {
            while (true) {
                // Scanned while the sink indexes too, so segments that a merge replaces are looked at before they go.
                long[] scanned = scanFiles(scanner, luceneDir);
                plaintextHits += scanned[0];
                filesScanned += scanned[1];
                expected.forEach((t, n) -> indexed.put(t, LuceneSearch.documentCount(indexes, t)));
                expected.forEach((t, n) -> controlIndexed.put(t, LuceneSearch.documentCount(control, t)));
                boolean done = expected.entrySet().stream()
                        .allMatch(e -> indexed.getOrDefault(e.getKey(), 0L) >= e.getValue()
                                && controlIndexed.getOrDefault(e.getKey(), 0L) >= e.getValue());
                if (done || System.nanoTime() > deadline) {
                    break;
                }
                Thread.sleep(100);
            }
        }
        long[] scanned = scanFiles(scanner, luceneDir);
        plaintextHits += scanned[0];
        filesScanned += scanned[1];
        long controlHits = scanFiles(scanner, controlDir)[0];
        IndexLeaks leaks = new IndexLeaks(true, plaintextHits, filesScanned, controlHits);
        if (plaintextHits > 0) {
            failures.add(plaintextHits + " plaintext vector hits in the Lucene sink's index files");
        }
        if (controlHits == 0) {
            failures.add("the leak scanner found nothing in the unencrypted control index, where plaintext is known to "
                    + "be: the index scan proves nothing");
        }
        expected.forEach((t, n) -> {
            if (indexed.getOrDefault(t, 0L) != n.longValue()) {
                failures.add("the Lucene sink indexed " + indexed.get(t) + " records of " + t + ", expected " + n);
            }
        });

        SortedMap<String, SearchCheck> searches = new TreeMap<>();
        SortedMap<String, Answer> answers = new TreeMap<>();
        Destroyed destroyed = null;
        try {
            for (Map.Entry<String, Map.Entry<String, float[]>> q : queries.entrySet()) {
                String tenant = q.getKey();
                Search.Outcome o = Search.run(
                        tenant,
                        q.getValue().getValue(),
                        10,
                        new Search.LuceneStore(luceneDir, LuceneSearch.DEFAULT_CANDIDATES, false),
                        keyring,
                        null,
                        null);
                SearchHit top = o.hits().isEmpty() ? null : o.hits().get(0);
                boolean ok = top != null
                        && top.embeddingId().equals(q.getValue().getKey())
                        && o.hits().size() == 10;
                searches.put(
                        tenant,
                        new SearchCheck(
                                q.getValue().getKey(),
                                top == null ? null : top.embeddingId(),
                                top == null ? 0 : top.score(),
                                ok));
                if (!ok) {
                    failures.add("searching " + tenant + " with the vector of "
                            + q.getValue().getKey() + " found " + (top == null ? "nothing" : top.embeddingId())
                            + " first");
                }
            }
            for (Map.Entry<String, Question> q : questions.entrySet()) {
                // A question a reader can judge: the tenant's nearest sentences, searched under its key.
                Search.Outcome o = Search.run(
                        q.getKey(),
                        q.getValue().vector(),
                        3,
                        new Search.LuceneStore(luceneDir, LuceneSearch.DEFAULT_CANDIDATES, false),
                        keyring,
                        null,
                        null);
                List<Hit> hits = new ArrayList<>();
                for (SearchHit h : o.hits()) {
                    hits.add(new Hit(
                            h.embeddingId(), h.score(), q.getValue().sentence().apply(h.embeddingId())));
                }
                answers.put(q.getKey(), new Answer(q.getValue().text(), hits));
                if (hits.size() < 3 || hits.stream().anyMatch(h -> h.sentence() == null)) {
                    failures.add("the question to " + q.getKey() + " found " + hits.size()
                            + " hits, or hits that are not its sentences");
                }
            }
            if (queries.size() >= 2) {
                destroyed = destroyLast(operator, topics, keyring, queries, deadline, failures, readToEnd);
            }
        } finally {
            keyring.kms().close();
        }
        return new Summary(indexed, searches, answers, destroyed, leaks, (System.nanoTime() - start) / 1e9);
    }

    /** Leak-scanner hits in every file under {@code dir}, and how many files (ones that vanish meanwhile are skipped). */
    private static long[] scanFiles(VectorLeakScanner scanner, Path dir) throws java.io.IOException {
        long hits = 0;
        long files = 0;
        if (!Files.isDirectory(dir)) {
            return new long[] {0, 0};
        }
        List<Path> all;
        try (var walk = Files.walk(dir)) {
            all = walk.filter(Files::isRegularFile).toList();
        } catch (java.io.UncheckedIOException e) {
            return new long[] {0, 0}; // a merge deleted a file mid-walk: scanned on the next round
        }
        for (Path p : all) {
            try {
                hits += scanner.scan(Files.readAllBytes(p));
                files++;
            } catch (java.nio.file.NoSuchFileException e) {
                // merged away meanwhile
            }
        }
        return new long[] {hits, files};
    }

    private Destroyed destroyLast(
            DemoOperator operator,
            TopicNames topics,
            Keyring keyring,
            Map<String, Map.Entry<String, float[]>> queries,
            long deadline,
            List<String> failures,
            Function<String, List<ConsumerRecord<byte[], byte[]>>> readToEnd)
            throws Exception {
        String tenant = new TreeMap<>(queries).lastKey();
        // As an operator does, with the same command: destroy the KEK in the KMS, then tell every processor and sink.
        operator.destroy(tenant);
        Map<String, Object> receipt = null;
        ObjectMapper json = new ObjectMapper();
        while (receipt == null && System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : readToEnd.apply(topics.audit())) {
                @SuppressWarnings("unchecked")
                Map<String, Object> entry = json.readValue(r.value(), Map.class);
                if (ShredReceipts.KIND.equals(entry.get("kind"))
                        && tenant.equals(entry.get("tenant"))
                        && CONNECTOR.equals(entry.get("connector"))) {
                    receipt = entry;
                }
            }
            if (receipt == null) {
                Thread.sleep(200);
            }
        }
        boolean gone = !Files.exists(LuceneVectorStore.tenantDir(luceneDir, tenant));
        String refusal = null;
        try {
            Search.run(
                    tenant,
                    java.util.Objects.requireNonNull(queries.get(tenant)).getValue(),
                    10,
                    new Search.LuceneStore(luceneDir, LuceneSearch.DEFAULT_CANDIDATES, false),
                    keyring,
                    null,
                    null);
        } catch (SearchRefusedException e) {
            refusal = e.getMessage();
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> deleted =
                receipt == null ? Map.of() : (Map<String, Object>) receipt.getOrDefault("deleted", Map.of());
        if (receipt == null) {
            failures.add("no shred receipt for " + tenant + " on " + topics.audit());
        } else if (((Number) deleted.getOrDefault("documents", deleted.getOrDefault("files", 0))).longValue() == 0) {
            failures.add("the shred receipt of " + tenant + " counts nothing deleted");
        }
        if (!gone) {
            failures.add("the index of destroyed tenant " + tenant + " is still on disk");
        }
        if (refusal == null) {
            failures.add("a search of destroyed tenant " + tenant + " was not refused");
        }
        return new Destroyed(tenant, deleted, gone, refusal);
    }

    @Override
    public void close() {
        connect.close();
    }
}
