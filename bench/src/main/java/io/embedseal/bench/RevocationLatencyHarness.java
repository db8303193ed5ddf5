package io.embedseal.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.control.KeyEventAuthor;
import io.embedseal.control.KeyEventSigner;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventSerializer;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.testkit.Directories;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Measures how long a REVOKED key event takes to stop a tenant: from the event's produce timestamp to the
 * processing time of the first of the tenant's records rejected with TENANT_REVOKED. Runs the real pipeline
 * ({@link EmbedsealPipeline}, exactly-once) on an in-process broker; each trial registers a fresh tenant, streams
 * its records every few milliseconds, waits until they are being sealed, then revokes it.
 *
 * <pre>java -cp bench/target/embedseal-bench.jar io.embedseal.bench.RevocationLatencyHarness [--trials 20] [--interval-ms 5] [--json]</pre>
 */
public final class RevocationLatencyHarness {

    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        int trials = 20;
        long intervalMs = 5;
        boolean json = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--trials" -> trials = Integer.parseInt(args[++i]);
                case "--interval-ms" -> intervalMs = Long.parseLong(args[++i]);
                case "--json" -> json = true;
                default ->
                    throw new IllegalArgumentException(
                            "unknown option " + args[i] + "; use --trials N, --interval-ms N, --json");
            }
        }
        Path dataDir = Files.createTempDirectory("embedseal-revocation-");
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir.resolve("kafka"), true)) {
            List<Long> latencies = run(broker, dataDir, trials, intervalMs);
            report(latencies, intervalMs, json);
        } finally {
            Directories.deleteRecursively(dataDir);
        }
        System.exit(0);
    }

    private static List<Long> run(EmbeddedKafkaBroker broker, Path dataDir, int trials, long intervalMs)
            throws Exception {
        Map<String, String> settings = new HashMap<>();
        settings.put("bootstrap.servers", broker.bootstrapServers());
        settings.put("application.id", "revocation-harness");
        settings.put("state.dir", dataDir.resolve("streams").toString());
        settings.put("topics.create", "true");
        settings.put("topics.partitions", "3");
        settings.put("kms.provider", "local");
        settings.put("kms.local.dir", dataDir.resolve("kms").toString());
        settings.put("streams.commit.interval.ms", "100");
        PipelineConfig config = PipelineConfig.of(settings, name -> null);
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        List<Long> latencies = new ArrayList<>();
        // The operator's signing key, which the pipeline trusts by default (kms:...), exists before the pipeline reads
        // it.
        try (KmsProvider p = KmsProviders.create(config.keyringSettings())) {
            p.signingKeys().orElseThrow().createSigningKey(KeyringSettings.DEFAULT_SIGNING_KEY);
        }
        try (EmbedsealPipeline pipeline = EmbedsealPipeline.create(config, registry);
                KmsProvider admin = KmsProviders.create(config.keyringSettings());
                KafkaProducer<String, byte[]> producer = new KafkaProducer<>(
                        Map.of(
                                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                                broker.bootstrapServers(),
                                ProducerConfig.LINGER_MS_CONFIG,
                                0),
                        new StringSerializer(),
                        new ByteArraySerializer());
                KafkaConsumer<String, byte[]> sealed =
                        consumer(broker, config.topics().sealed());
                KafkaConsumer<String, byte[]> dlq =
                        consumer(broker, config.topics().dlq())) {
            pipeline.createTopicsIfConfigured();
            pipeline.start();
            KeyEventAuthor operator = new KeyEventAuthor(
                    new KeyEventSigner(admin.signingKeys().orElseThrow(), KeyringSettings.DEFAULT_SIGNING_KEY),
                    "harness");
            EmbeddingEventSerializer serializer = new EmbeddingEventSerializer(registry);
            for (int trial = 1; trial <= trials; trial++) {
                String tenant = "tenant-" + trial;
                KekRef kek = admin.createKek(pipeline.keyring().naming().kekNameFor(tenant));
                producer.send(new ProducerRecord<>(
                                config.topics().keyEvents(),
                                tenant,
                                operator.next(
                                        tenant, KeyEventType.REGISTERED, kek.provider(), kek.keyName(), kek.version())))
                        .get();
                AtomicBoolean streaming = new AtomicBoolean(true);
                Thread load = new Thread(
                        () -> {
                            Random random = new Random();
                            for (int n = 0; streaming.get(); n++) {
                                List<Float> v = new ArrayList<>();
                                for (int d = 0; d < 64; d++) {
                                    v.add(random.nextFloat());
                                }
                                EmbeddingEvent e = EmbeddingEvent.newBuilder()
                                        .setTenantId(tenant)
                                        .setEmbeddingId("d" + n)
                                        .setModel("m")
                                        .setVector(v)
                                        .setMetadata(null)
                                        .setEventTime(Instant.now())
                                        .build();
                                var unused = producer.send(new ProducerRecord<>(
                                        config.topics().raw(),
                                        tenant + "/d" + n,
                                        serializer.serialize(
                                                config.topics().raw(), e))); // a lost record shows as never sealed
                                try {
                                    Thread.sleep(intervalMs);
                                } catch (InterruptedException ie) {
                                    return;
                                }
                            }
                        },
                        "load-" + tenant);
                load.start();
                try {
                    awaitSealed(sealed, tenant, 10);
                    long revokedAt = producer.send(new ProducerRecord<>(
                                    config.topics().keyEvents(),
                                    tenant,
                                    operator.next(
                                            tenant,
                                            KeyEventType.REVOKED,
                                            kek.provider(),
                                            kek.keyName(),
                                            kek.version())))
                            .get()
                            .timestamp();
                    long rejectedAt = awaitFirstRevocation(dlq, tenant);
                    latencies.add(rejectedAt - revokedAt);
                    System.err.printf(Locale.ROOT, "trial %2d: %4d ms%n", trial, rejectedAt - revokedAt);
                } finally {
                    streaming.set(false);
                    load.join();
                }
            }
        }
        return latencies;
    }

    private static KafkaConsumer<String, byte[]> consumer(EmbeddedKafkaBroker broker, String topic) {
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(
                Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        broker.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG,
                        "harness-" + topic,
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                        "earliest",
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                        "read_committed"),
                new StringDeserializer(),
                new ByteArrayDeserializer());
        c.subscribe(List.of(topic));
        return c;
    }

    private static void awaitSealed(KafkaConsumer<String, byte[]> sealed, String tenant, int count) {
        int seen = 0;
        long deadline = System.currentTimeMillis() + 60_000;
        while (seen < count) {
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("tenant " + tenant + " was not sealed within 60 s");
            }
            for (ConsumerRecord<String, byte[]> r : sealed.poll(Duration.ofMillis(50))) {
                if (r.key().startsWith(tenant + "/")) {
                    seen++;
                }
            }
        }
    }

    private static long awaitFirstRevocation(KafkaConsumer<String, byte[]> dlq, String tenant) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<String, byte[]> r : dlq.poll(Duration.ofMillis(50))) {
                JsonNode v = JSON.readTree(r.value());
                if ("TENANT_REVOKED".equals(v.path("reason").asText())
                        && tenant.equals(v.path("tenantId").asText())) {
                    return Instant.parse(v.get("time").asText()).toEpochMilli();
                }
            }
        }
        throw new IllegalStateException("no rejection for " + tenant + " within 60 s of its revocation");
    }

    private static void report(List<Long> latencies, long intervalMs, boolean json) throws Exception {
        List<Long> sorted = new ArrayList<>(latencies);
        Collections.sort(sorted);
        long median = sorted.size() % 2 == 1
                ? sorted.get(sorted.size() / 2)
                : (sorted.get(sorted.size() / 2 - 1) + sorted.get(sorted.size() / 2)) / 2;
        long worst = sorted.get(sorted.size() - 1);
        if (json) {
            Map<String, Object> o = new java.util.LinkedHashMap<>();
            o.put("trials", latencies.size());
            o.put("record_interval_ms", intervalMs);
            o.put("median_ms", median);
            o.put("worst_ms", worst);
            o.put("best_ms", sorted.get(0));
            o.put("latencies_ms", latencies);
            System.out.println(JSON.writeValueAsString(o));
        } else {
            System.out.printf(
                    Locale.ROOT,
                    "revocation propagation over %d trials (a record every %d ms): median %d ms, worst %d ms, best %d ms%n",
                    latencies.size(),
                    intervalMs,
                    median,
                    worst,
                    sorted.get(0));
        }
    }
}
