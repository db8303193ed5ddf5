package io.embedseal.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.control.KeyEventAuthor;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.EmbedsealSinkConfig;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneSinkConnector;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresSinkConnector;
import io.embedseal.testkit.Directories;
import io.embedseal.testkit.EmbeddedConnect;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.PostgresServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sink throughput through a real Connect worker: the sealed topic is filled first (so the producer is not what is
 * measured), then a connector starts and the clock runs from its tasks RUNNING until the store holds every record
 * (committed and visible to a new reader). Lucene: index mode, unsealing each record through the local KMS and
 * indexing it in its tenant's HNSW index. PostgreSQL: sealed mode, envelopes upserted in batches. Runs alternate
 * (Lucene, PostgreSQL, Lucene, ...) on the same records.
 *
 * <pre>java -cp 'bench/target/embedseal-bench.jar:bench/target/lib/*' io.embedseal.bench.SinkThroughputHarness \
 *      [--records 50000] [--dims 384] [--tenants 10] [--partitions 4] [--runs 2] [--no-postgres] [--json] \
 *      [--lucene-setting key=value ...]</pre>
 *
 * PostgreSQL is the test server ({@code EMBEDSEAL_PG_URL}, {@code EMBEDSEAL_PG_USER}, {@code EMBEDSEAL_PG_PASSWORD};
 * {@code .ci/run} shows how to start one).
 */
public final class SinkThroughputHarness {

    /** {@code --lucene-setting key=value}: connector settings of the Lucene sink for this run (e.g. its HNSW beam). */
    private static final Map<String, String> LUCENE_SETTINGS = new java.util.TreeMap<>();

    public static void main(String[] args) throws Exception {
        int records = 50_000;
        int dims = 384;
        int tenants = 10;
        int partitions = 4;
        int runs = 2;
        boolean postgres = true;
        boolean lucene = true;
        boolean json = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> records = Integer.parseInt(args[++i]);
                case "--dims" -> dims = Integer.parseInt(args[++i]);
                case "--tenants" -> tenants = Integer.parseInt(args[++i]);
                case "--partitions" -> partitions = Integer.parseInt(args[++i]);
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--no-postgres" -> postgres = false;
                case "--no-lucene" -> lucene = false;
                case "--lucene-setting" -> {
                    String[] kv = args[++i].split("=", 2);
                    LUCENE_SETTINGS.put(kv[0], kv[1]);
                }
                case "--json" -> json = true;
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; use --records N, --dims N, --tenants N, --partitions N, --runs N, --no-postgres, --no-lucene, "
                            + "--json");
            }
        }
        if (postgres && PostgresServer.unavailableBecause().isPresent()) {
            throw new IllegalStateException(PostgresServer.unavailableBecause().get() + " (or pass --no-postgres)");
        }
        Path dataDir = Files.createTempDirectory("embedseal-sink-bench-");
        List<Map<String, Object>> results = new ArrayList<>();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir.resolve("kafka"), true)) {
            Path kmsDir = dataDir.resolve("kms");
            String topic = "sealed-bench";
            String keyEvents = "events-bench";
            broker.createTopic(topic, partitions, Map.of());
            broker.createTopic(keyEvents, 1, Map.of("cleanup.policy", "delete", "retention.ms", "-1"));
            broker.createTopic("audit-bench", 1, Map.of());
            List<String> names = new ArrayList<>();
            for (int t = 0; t < tenants; t++) {
                names.add(String.format(Locale.ROOT, "tenant-%03d", t));
            }
            long bytes = fill(broker, kmsDir, topic, keyEvents, names, records, dims);
            for (int run = 1; run <= runs; run++) {
                if (lucene) {
                    results.add(measure(broker, dataDir, kmsDir, "lucene", topic, keyEvents, names, records, run));
                }
                if (postgres) {
                    results.add(measure(broker, dataDir, kmsDir, "postgresql", topic, keyEvents, names, records, run));
                    results.add(measure(
                            broker, dataDir, kmsDir, "postgresql-unverified", topic, keyEvents, names, records, run));
                }
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("records", records);
            out.put("dims", dims);
            out.put("tenants", tenants);
            out.put("partitions", partitions);
            out.put("sealed_bytes", bytes);
            out.put("java", System.getProperty("java.version"));
            out.put("runs", results);
            if (json) {
                System.out.println(new ObjectMapper().writeValueAsString(out));
            } else {
                System.out.printf(
                        Locale.ROOT,
                        "%,d sealed records (%d dims, %d tenants, %d partitions, %.1f MB), Java %s%n",
                        records,
                        dims,
                        tenants,
                        partitions,
                        bytes / 1e6,
                        System.getProperty("java.version"));
                for (Map<String, Object> r : results) {
                    System.out.printf(
                            Locale.ROOT,
                            "  run %s  %-10s  %,8d records/s  (%.2f s)%n",
                            r.get("run"),
                            r.get("sink"),
                            ((Number) r.get("records_per_second")).longValue(),
                            ((Number) r.get("seconds")).doubleValue());
                }
            }
        } finally {
            Directories.deleteRecursively(dataDir);
        }
        System.exit(0);
    }

    /** Registers the tenants and fills the sealed topic; returns the bytes of sealed values produced. */
    private static long fill(
            EmbeddedKafkaBroker broker,
            Path kmsDir,
            String topic,
            String keyEvents,
            List<String> tenants,
            int records,
            int dims)
            throws Exception {
        long bytes = 0;
        try (LocalKms kms = new LocalKms(kmsDir);
                KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                broker.bootstrapServers(),
                                ProducerConfig.LINGER_MS_CONFIG,
                                20,
                                ProducerConfig.BATCH_SIZE_CONFIG,
                                1 << 20,
                                ProducerConfig.ACKS_CONFIG,
                                "all"),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            Keyring keyring = Keyring.builder(kms).build();
            Sealer sealer = new Sealer(keyring);
            KeyEventAuthor operator = KeyEventAuthor.creatingKey(
                    kms.signingKeys().orElseThrow(), KeyringSettings.DEFAULT_SIGNING_KEY, "bench");
            for (String t : tenants) {
                KekRef k = kms.createKek(keyring.naming().kekNameFor(t));
                producer.send(new ProducerRecord<>(
                                keyEvents,
                                t.getBytes(StandardCharsets.UTF_8),
                                operator.next(t, KeyEventType.REGISTERED, k.provider(), k.keyName(), k.version())))
                        .get();
            }
            Random random = new Random(42);
            for (int i = 0; i < records; i++) {
                String tenant = tenants.get(i % tenants.size());
                String id = "e-" + i;
                List<Float> v = new ArrayList<>(dims);
                for (int d = 0; d < dims; d++) {
                    v.add(random.nextFloat() * 2 - 1);
                }
                EmbeddingEvent e = EmbeddingEvent.newBuilder()
                        .setTenantId(tenant)
                        .setEmbeddingId(id)
                        .setModel("bench-" + dims)
                        .setVector(v)
                        .setMetadata(Map.of())
                        .setEventTime(Instant.EPOCH)
                        .build();
                byte[] sealed = sealer.seal(
                        tenant,
                        id,
                        io.embedseal.serdes.envelope.RecordVersion.now(),
                        PayloadType.EMBEDDING_EVENT_AVRO,
                        EmbeddingEventCodec.toCanonicalAvro(e));
                bytes += sealed.length;
                var unused = producer.send(
                        new ProducerRecord<>(topic, (tenant + "/" + id).getBytes(StandardCharsets.UTF_8), sealed));
            }
            producer.flush();
        }
        return bytes;
    }

    private static Map<String, Object> measure(
            EmbeddedKafkaBroker broker,
            Path dataDir,
            Path kmsDir,
            String sink,
            String topic,
            String keyEvents,
            List<String> tenants,
            int records,
            int run)
            throws Exception {
        String name = sink + "-" + run;
        Map<String, String> c = new HashMap<>();
        c.put("topics", topic);
        c.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, broker.bootstrapServers());
        c.put(EmbedsealSinkConfig.KEY_EVENTS_TOPIC, keyEvents);
        c.put(EmbedsealSinkConfig.AUDIT_TOPIC, "audit-bench");
        c.put("kms.provider", "local");
        c.put("kms.local.dir", kmsDir.toString());
        LongSupplier stored;
        String table = PostgresServer.freshTable("bench");
        if (sink.equals("lucene")) {
            Path dir = dataDir.resolve("lucene-" + run);
            c.put("connector.class", LuceneSinkConnector.class.getName());
            c.put(LuceneSinkConfig.DIR, dir.toString());
            c.put("tasks.max", "1");
            c.putAll(LUCENE_SETTINGS);
            LocalKms reader = new LocalKms(kmsDir);
            stored = () -> {
                try (io.embedseal.sinks.lucene.LuceneIndexes indexes =
                        io.embedseal.sinks.lucene.LuceneIndexes.encrypted(
                                dir, reader, io.embedseal.keyring.KekNaming.defaults(), 16 << 20)) {
                    return tenants.stream()
                            .mapToLong(t -> LuceneSearch.documentCount(indexes, t))
                            .sum();
                }
            };
        } else {
            c.put("connector.class", PostgresSinkConnector.class.getName());
            c.put(PostgresSinkConfig.URL, PostgresServer.URL);
            c.put(PostgresSinkConfig.USER, PostgresServer.USER);
            c.put(PostgresSinkConfig.PASSWORD, PostgresServer.PASSWORD);
            c.put(PostgresSinkConfig.TABLE, table);
            c.put("tasks.max", "2");
            if (sink.equals("postgresql-unverified")) {
                // Envelope v2's check switched off, for the cost of authenticating every envelope side by side.
                c.put(EmbedsealSinkConfig.ENVELOPE_VERIFY, "false");
            }
            stored = () -> pgCount(table);
        }
        try (EmbeddedConnect connect = EmbeddedConnect.start(
                broker.bootstrapServers(),
                dataDir.resolve(name + ".offsets"),
                Map.of(
                        "offset.flush.interval.ms",
                        System.getProperty("flush.ms", "200"),
                        "consumer.max.poll.records",
                        "1000"))) {
            connect.putConnector(name, c);
            connect.awaitRunning(name, EmbeddedConnect.startTimeout());
            long start = System.nanoTime();
            long deadline = start + 600_000_000_000L;
            while (stored.getAsLong() < records) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(
                            sink + " stored only " + stored.getAsLong() + " of " + records + " in 10 minutes");
                }
                Thread.sleep(100);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("run", run);
            r.put("sink", sink);
            r.put("mode", sink.equals("lucene") ? "index (unseal + HNSW)" : "sealed (bytea upsert)");
            r.put("seconds", Math.round(seconds * 1000) / 1000.0);
            r.put("records_per_second", Math.round(records / seconds));
            return r;
        } finally {
            if (sink.equals("postgresql")) {
                try (Connection conn = PostgresServer.connect()) {
                    conn.createStatement().execute("DROP TABLE IF EXISTS " + table + ", " + table + "_shreds");
                }
            }
        }
    }

    private static long pgCount(String table) {
        try (Connection c = PostgresServer.connect();
                PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + table);
                ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            return 0; // not created yet
        }
    }
}
