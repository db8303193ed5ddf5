package io.embedseal.topology;

import io.embedseal.control.KeyEventGate;
import io.embedseal.keyring.kms.decorator.KmsReachability;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantFaults;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * Builds the sealing topology:
 * <pre>
 *   keyring.events (signed) --apply-key-events--> global store "tenant-keys" + tenant directory (every instance)
 *
 *   raw (bytes) --validate-and-seal--+--> sealed  (key tenant/embeddingId, value envelope v1)
 *                                    +--> dlq     (original key, metadata-only JSON, embedseal.dlq.* headers)
 * </pre>
 * Production and tests call the same {@link #build} so a {@code TopologyTestDriver} runs exactly what ships.
 */
public final class EmbedsealTopology {

    /** The global store holding every tenant's admitted key state. */
    public static final String TENANT_STORE = "tenant-keys";

    private EmbedsealTopology() {}

    /**
     * The parts the topology needs; configuration decides which KMS and registry they wrap.
     *
     * @param keyEvents the gate every key event passes, and through it the tenants known from the key-event topic
     * @param keyEventAudit receives every key event applied or refused (for the audit trail); may do nothing
     */
    public record Parts(
            TopicNames topics,
            EmbeddingEventCodec codec,
            EmbeddingValidator validator,
            Sealer sealer,
            KeyEventGate keyEvents,
            PipelineHealth health,
            SealingOptions options,
            Consumer<KeyEventApplied> keyEventAudit,
            TenantFaults faults,
            KmsReachability kmsReachability,
            KeyEventFreshness keyEventFreshness,
            PipelineMetrics metrics) {
        public Parts {
            Objects.requireNonNull(topics, "topics");
            Objects.requireNonNull(codec, "codec");
            Objects.requireNonNull(validator, "validator");
            Objects.requireNonNull(sealer, "sealer");
            Objects.requireNonNull(keyEvents, "keyEvents");
            Objects.requireNonNull(health, "health");
            Objects.requireNonNull(options, "options");
            Objects.requireNonNull(keyEventAudit, "keyEventAudit");
            Objects.requireNonNull(faults, "faults");
            Objects.requireNonNull(kmsReachability, "kmsReachability");
            Objects.requireNonNull(keyEventFreshness, "keyEventFreshness");
            Objects.requireNonNull(metrics, "metrics");
        }

        /** The tenants the gate admitted: what the sealing processors consult. */
        public TenantDirectory directory() {
            return keyEvents.directory();
        }

        /**
         * Parts with a fresh health and no key-event audit; the gate's directory is the one the sealer's keyring
         * resolves KEKs with.
         */
        public static Parts of(
                TopicNames topics,
                EmbeddingEventCodec codec,
                EmbeddingValidator validator,
                Sealer sealer,
                KeyEventGate keyEvents,
                SealingOptions options) {
            return new Parts(
                    topics,
                    codec,
                    validator,
                    sealer,
                    keyEvents,
                    new PipelineHealth(),
                    options,
                    a -> {},
                    new TenantFaults(options.deniedCooldown()),
                    new KmsReachability(sealer.keyring().kms(), Duration.ofSeconds(5)),
                    KeyEventFreshness.ALWAYS_FRESH,
                    PipelineMetrics.NONE);
        }
    }

    /** Adds the key-event global store and the sealing topology to {@code builder}. */
    public static void build(StreamsBuilder builder, Parts parts) {
        // Persistent (RocksDB) for one reason beyond the store itself: Kafka Streams keeps its process id in the
        // state directory only when the topology has a persistent store. With it, an instance restarted on the same
        // state directory reuses its transactional ids and aborts a killed predecessor's open transaction at once;
        // with a fresh id every start, read_committed readers of the sealed topic would wait for that transaction's
        // timeout (outage.max-wait-seconds + 60 s). See docs/reliability.md and CrashRecoveryTest.
        StoreBuilder<KeyValueStore<String, byte[]>> tenantStore = Stores.keyValueStoreBuilder(
                        Stores.persistentKeyValueStore(TENANT_STORE), Serdes.String(), Serdes.ByteArray())
                .withLoggingDisabled();
        builder.addGlobalStore(
                tenantStore,
                parts.topics().keyEvents(),
                Consumed.with(Serdes.String(), Serdes.ByteArray()).withName("key-events"),
                () -> new KeyEventProcessor(
                        TENANT_STORE,
                        parts.keyEvents(),
                        parts.sealer().keyring(),
                        parts.keyEventAudit(),
                        parts.metrics(),
                        parts.faults(),
                        parts.keyEventFreshness()));

        // One sink, two topics: a dead letter is the record that carries the DLQ reason header, which only
        // SealingProcessor#deadLetter sets (a producer's own embedseal.* headers are dropped before sealing). This
        // costs one header lookup per record, where split/branch/mapValues nodes cost three more hops.
        TopicNames topics = parts.topics();
        builder.stream(
                        topics.raw(),
                        Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("raw-embeddings"))
                .process(() -> new SealingProcessor(parts), Named.as("validate-and-seal"))
                .to(
                        (key, value, context) -> context.headers().lastHeader(DeadLetters.REASON_HEADER) != null
                                ? topics.dlq()
                                : topics.sealed(),
                        Produced.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("sealed-or-dead-letter"));
    }

    /** A complete topology with nothing else in it. */
    public static Topology topology(Parts parts) {
        StreamsBuilder builder = new StreamsBuilder();
        build(builder, parts);
        return builder.build();
    }
}
