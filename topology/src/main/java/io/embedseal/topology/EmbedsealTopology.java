package io.embedseal.topology;

import io.embedseal.serdes.validation.EmbeddingValidator;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.Sealer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;

import java.util.Objects;

/**
 * Builds the sealing topology:
 * <pre>
 *   raw (bytes) --validate-and-seal--+--> sealed  (key tenant/embeddingId, value envelope v1)
 *                                    +--> dlq     (original key, metadata-only JSON, embedseal.dlq.* headers)
 * </pre>
 * Production and tests call the same {@link #build} so a {@code TopologyTestDriver} runs exactly what ships.
 */
public final class EmbedsealTopology {

    private EmbedsealTopology() {
    }

    /** The parts the topology needs; configuration decides which KMS and registry they wrap. */
    public record Parts(TopicNames topics, EmbeddingEventCodec codec, EmbeddingValidator validator, Sealer sealer) {
        public Parts {
            Objects.requireNonNull(topics, "topics");
            Objects.requireNonNull(codec, "codec");
            Objects.requireNonNull(validator, "validator");
            Objects.requireNonNull(sealer, "sealer");
        }
    }

    /** Adds the sealing topology to {@code builder}. */
    public static void build(StreamsBuilder builder, Parts parts) {
        KStream<byte[], Routed> routed = builder
                .stream(parts.topics().raw(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("raw-embeddings"))
                .process(() -> new SealingProcessor(parts.codec(), parts.validator(), parts.sealer()), Named.as("validate-and-seal"));

        Produced<byte[], byte[]> bytes = Produced.with(Serdes.ByteArray(), Serdes.ByteArray());
        routed.split(Named.as("route-"))
                .branch((key, r) -> r.deadLetter(), Branched.withConsumer(
                        s -> s.mapValues(Routed::value, Named.as("dead-letter-value"))
                                .to(parts.topics().dlq(), bytes.withName("dead-letters")), "dlq"))
                .defaultBranch(Branched.withConsumer(
                        s -> s.mapValues(Routed::value, Named.as("sealed-value"))
                                .to(parts.topics().sealed(), bytes.withName("sealed-embeddings")), "sealed"));
    }

    /** A complete topology with nothing else in it. */
    public static Topology topology(Parts parts) {
        StreamsBuilder builder = new StreamsBuilder();
        build(builder, parts);
        return builder.build();
    }
}
