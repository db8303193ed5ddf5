package io.embedseal.app.ops;

import io.embedseal.keyring.TenantIds;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventSerializer;
import io.embedseal.serdes.avro.SchemaRegistries;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "produce",
        mixinStandardHelpOptions = true,
        description = {
            "Publishes synthetic embeddings to the raw topic, as a producer would: Avro in the Confluent wire "
                    + "format, the schema registered in the configured schema registry. For trying a deployment out.",
            "Records are keyed tenant/embeddingId; vectors are unit-length and random (deterministic per --seed)."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:produced", "1:failed", "2:invalid usage"})
public final class ProduceCommand extends OperatorCommand {

    @Option(names = "--tenants", required = true, split = ",", description = "Tenant ids, comma-separated.")
    List<String> tenants = new ArrayList<>();

    @Option(names = "--records", defaultValue = "1000", description = "Records per tenant (default: ${DEFAULT-VALUE}).")
    int records;

    @Option(names = "--dims", defaultValue = "384", description = "Vector dimensions (default: ${DEFAULT-VALUE}).")
    int dims;

    @Option(names = "--seed", defaultValue = "20261128", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--schema-registry-url", description = "The registry, when no --config names one.")
    String registryUrl;

    @Override
    int run(ClusterOptions.Cluster cluster) {
        for (String t : tenants) {
            if (!TenantIds.isValid(t)) {
                throw new IllegalArgumentException("--tenants: '" + t + "': " + TenantIds.describeRule());
            }
        }
        if (records < 1 || records > 10_000_000 || dims < 1 || dims > 16_384) {
            throw new IllegalArgumentException("--records must be 1 to 10000000 and --dims 1 to 16384");
        }
        Map<String, Object> registry = new HashMap<>(cluster.registrySettings());
        if (registryUrl != null) {
            registry.put("schema.registry.url", registryUrl);
        }
        if (registry.get("schema.registry.url") == null) {
            throw new IllegalArgumentException(
                    "no schema registry: give --config with schema.registry.url, or --schema-registry-url");
        }
        EmbeddingEventSerializer serializer = new EmbeddingEventSerializer(SchemaRegistries.fromConfig(registry));
        SyntheticEmbeddings synthetic = new SyntheticEmbeddings(seed, dims);
        Map<String, Object> p = new HashMap<>(cluster.clientProps());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 10);
        String topic = cluster.topics().raw();
        long n = 0;
        AtomicReference<Exception> failed = new AtomicReference<>();
        AtomicLong failures = new AtomicLong();
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < records; i++) {
                for (String t : tenants) {
                    EmbeddingEvent e = synthetic.event(t, i);
                    Future<RecordMetadata> unused = producer.send(
                            new ProducerRecord<>(topic, t + "/" + e.getEmbeddingId(), serializer.serialize(topic, e)),
                            (metadata, error) -> {
                                if (error != null) {
                                    failures.incrementAndGet();
                                    failed.compareAndSet(null, error);
                                }
                            });
                    n++;
                    if (n % 10_000 == 0) {
                        err().printf(Locale.ROOT, "\rproduced %,d records", n);
                        err().flush();
                    }
                }
            }
            producer.flush();
        }
        if (n >= 10_000) {
            err().println();
        }
        if (failed.get() != null) {
            throw new OperationFailed(failures.get() + " of " + n + " records were not written to " + topic + ": "
                    + failed.get().getMessage());
        }
        out().printf(
                        Locale.ROOT,
                        "produced %,d records (%d dims) for %s to %s%n",
                        n,
                        dims,
                        String.join(", ", tenants),
                        topic);
        return 0;
    }
}
