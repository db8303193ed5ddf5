package io.embedseal.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.topology.EmbedsealPipeline;
import io.embedseal.topology.PipelineConfig;
import io.embedseal.topology.TopicNames;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Item 7: a sustained run at 80% of the pipeline's throughput, measured first in the same run the way the bench
 * measures it (a backlog drained, records/s): five minutes (bounded; {@code -Dembedseal.reliability.load-seconds}
 * changes it for experiments) at 384 dimensions and 10 tenants, with the lag sampled every 5 s and the live heap
 * (used after a full collection, forced once a minute) measured. The lag must not grow and the heap must stay flat.
 */
@Tag("reliability")
@Order(50)
class SustainedLoadTest {

    static final int DIMS = 384;
    static final int TENANTS = 10;
    static final double FRACTION = 0.8;
    static final int LOAD_SECONDS = Integer.getInteger("embedseal.reliability.load-seconds", 300);
    static final int BACKLOG = 300_000;
    static final int POOL = 4_096;

    @TempDir
    Path dir;

    record Sample(double atSeconds, long lag, long liveHeapBytes, long sent) {}

    @Test
    void fiveMinutesAt80PercentOfCapacity_lagDoesNotGrow_andHeapStaysFlat() throws Exception {
        String bootstrap = EmbeddedKafkaBroker.shared().bootstrapServers();
        String prefix = "load-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        // Bounded on disk: about 100 MB/s flows into each of raw and sealed; old segments are deleted as it runs.
        Map<String, String> bounded = Map.of(
                "retention.bytes",
                Long.toString(256L << 20),
                "segment.bytes",
                Long.toString(64L << 20),
                "retention.ms",
                "120000",
                "file.delete.delay.ms",
                "1000");
        try (Admin admin = Suite.admin(bootstrap)) {
            admin.createTopics(List.of(
                            new NewTopic(prefix + "raw", 4, (short) 1).configs(bounded),
                            new NewTopic(prefix + "sealed", 4, (short) 1).configs(bounded)))
                    .all()
                    .get(30, TimeUnit.SECONDS);
        }
        TopicNames topics = Suite.topics(EmbeddedKafkaBroker.shared(), prefix, 4);
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        int schemaId = registry.register(topics.raw() + "-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        List<byte[]> values = new ArrayList<>();
        List<byte[]> keys = new ArrayList<>();
        for (int i = 0; i < POOL; i++) {
            EmbeddingEvent e = Suite.event(i, TENANTS, DIMS);
            values.add(Suite.wire(schemaId, e));
            keys.add(Suite.key(e));
        }
        PipelineConfig config = PipelineConfig.of(
                Suite.pipelineSettings(
                        bootstrap,
                        prefix + "app",
                        topics,
                        dir.resolve("state"),
                        "mock://unused",
                        dir.resolve("kms"),
                        Map.of()),
                n -> null);
        String group = prefix + "app";
        try (LocalKms kms = new LocalKms(dir.resolve("kms"));
                KafkaProducer<byte[], byte[]> producer = Suite.producer(bootstrap);
                Admin admin = Suite.admin(bootstrap);
                EmbedsealPipeline pipeline = EmbedsealPipeline.create(config, registry)) {
            for (int t = 0; t < TENANTS; t++) {
                Suite.register(producer, topics, kms, Suite.tenant(t));
            }
            pipeline.start();
            // Warm up, then measure capacity two ways. As the bench does: a backlog drained with nothing else
            // producing (reported). And with the load generator in the loop, sending as fast as it can while the
            // pipeline seals: on one 2-core machine the generator and the broker's work for it compete with the
            // pipeline, so this saturated rate is the capacity the load is a fraction of.
            for (int i = 0; i < 30_000; i++) {
                producer.send(new ProducerRecord<>(topics.raw(), keys.get(i % POOL), values.get(i % POOL)));
            }
            producer.flush();
            Suite.awaitCommittedToEnd(bootstrap, group, topics.raw(), Duration.ofMinutes(2));
            pipeline.streams().pause();
            for (int i = 0; i < BACKLOG; i++) {
                producer.send(new ProducerRecord<>(topics.raw(), keys.get(i % POOL), values.get(i % POOL)));
            }
            producer.flush();
            long drainStart = System.nanoTime();
            pipeline.streams().resume();
            Suite.awaitCommittedToEnd(bootstrap, group, topics.raw(), Duration.ofMinutes(3));
            double drained = BACKLOG / ((System.nanoTime() - drainStart) / 1e9);

            long saturateEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(25);
            long committedAt5s = -1;
            long at5s = 0;
            for (long i = 0; System.nanoTime() < saturateEnd; i++) {
                producer.send(
                        new ProducerRecord<>(topics.raw(), keys.get((int) (i % POOL)), values.get((int) (i % POOL))));
                if (committedAt5s < 0 && System.nanoTime() > saturateEnd - TimeUnit.SECONDS.toNanos(20)) {
                    at5s = System.nanoTime();
                    committedAt5s = committed(admin, group);
                }
            }
            double capacity = (committed(admin, group) - committedAt5s) / ((System.nanoTime() - at5s) / 1e9);
            producer.flush();
            Suite.awaitCommittedToEnd(bootstrap, group, topics.raw(), Duration.ofMinutes(3));
            int rate = (int) (capacity * FRACTION);

            // The load: paced sends at 80% of that, from one thread, for LOAD_SECONDS.
            AtomicLong sent = new AtomicLong();
            AtomicReference<Throwable> feederFailure = new AtomicReference<>();
            long loadStart = System.nanoTime();
            long loadEnd = loadStart + TimeUnit.SECONDS.toNanos(LOAD_SECONDS);
            Thread feeder = new Thread(
                    () -> {
                        try {
                            long i = 0;
                            while (System.nanoTime() < loadEnd) {
                                long due = loadStart + (long) (i * (1e9 / rate));
                                long wait = due - System.nanoTime();
                                if (wait > 1_000_000) {
                                    Thread.sleep(wait / 1_000_000);
                                }
                                int k = (int) (i % POOL);
                                producer.send(new ProducerRecord<>(topics.raw(), keys.get(k), values.get(k)));
                                sent.incrementAndGet();
                                i++;
                            }
                            producer.flush();
                        } catch (Throwable t) {
                            feederFailure.set(t);
                        }
                    },
                    "load-feeder");
            feeder.start();
            List<Sample> samples = new ArrayList<>();
            while (feeder.isAlive()) {
                Thread.sleep(5_000);
                boolean minute = samples.size() % 12 == 11;
                samples.add(new Sample(
                        (System.nanoTime() - loadStart) / 1e9,
                        Suite.lag(admin, group, topics.raw()),
                        minute ? liveHeap() : -1,
                        sent.get()));
            }
            assertThat(feederFailure.get()).as("the feeder failed").isNull();
            long endLag = Suite.lag(admin, group, topics.raw());
            Suite.awaitCommittedToEnd(bootstrap, group, topics.raw(), Duration.ofMinutes(2));
            double drainAfterMs = (System.nanoTime() - loadEnd) / 1e6;

            // Lag: the last minute's highest lag against the first minute's, and its least-squares trend.
            List<Sample> first =
                    samples.stream().filter(s -> s.atSeconds() <= 60).toList();
            List<Sample> last = samples.stream()
                    .filter(s -> s.atSeconds() > LOAD_SECONDS - 60)
                    .toList();
            long maxLagFirst = first.stream().mapToLong(Sample::lag).max().orElse(0);
            long maxLagLast = last.stream().mapToLong(Sample::lag).max().orElse(0);
            double slope =
                    slope(samples.stream().filter(s -> s.atSeconds() > 30).toList(), Sample::lag); // records/s
            List<Long> live = samples.stream()
                    .map(Sample::liveHeapBytes)
                    .filter(b -> b >= 0)
                    .toList();
            assertThat(live).as("live heap measured once a minute").hasSizeGreaterThanOrEqualTo(LOAD_SECONDS / 60 - 1);
            long oldFirst = live.get(0);
            long oldLast = live.get(live.size() - 1);
            double achieved = sent.get() / (double) LOAD_SECONDS;
            System.out.printf(
                    "sustained load: backlog of %d at %d dims drained at %.0f records/s; sealed at %.0f records/s with"
                            + " the generator in the loop (capacity); load %d s at %d"
                            + " records/s (%.0f%%), achieved %.0f records/s; lag max first minute %d, last minute %d, trend %.1f"
                            + " records/s, %d at the end, drained %.0f ms after; live heap (after a full GC) at the first minute %.1f MB,"
                            + " at the last %.1f MB, all: %s MB%n",
                    BACKLOG,
                    DIMS,
                    drained,
                    capacity,
                    LOAD_SECONDS,
                    rate,
                    FRACTION * 100,
                    achieved,
                    maxLagFirst,
                    maxLagLast,
                    slope,
                    endLag,
                    drainAfterMs,
                    oldFirst / 1e6,
                    oldLast / 1e6,
                    live.stream().map(b -> String.format("%.0f", b / 1e6)).toList());
            for (Sample s : samples) {
                System.out.printf(
                        "  t=%5.0f s  lag %8d  sent %,d%s%n",
                        s.atSeconds(),
                        s.lag(),
                        s.sent(),
                        s.liveHeapBytes() >= 0 ? String.format("  live heap %.1f MB", s.liveHeapBytes() / 1e6) : "");
            }

            assertThat(achieved).as("the feeder kept the rate").isGreaterThan(rate * 0.95);
            assertThat(maxLagLast)
                    .as("lag in the last minute stays below 2 s of input")
                    .isLessThan(2L * rate);
            assertThat(slope).as("the lag has no upward trend (records/s)").isLessThan(rate * 0.002);
            assertThat(oldLast).as("the heap after GC stays flat").isLessThan(oldFirst + (64L << 20));
        }
    }

    /** The least-squares slope of a value over the samples' time, per second. */
    private static double slope(List<Sample> samples, java.util.function.ToLongFunction<Sample> value) {
        int n = samples.size();
        if (n < 2) {
            return 0;
        }
        double mx = samples.stream().mapToDouble(Sample::atSeconds).average().orElse(0);
        double my = samples.stream().mapToLong(value).average().orElse(0);
        double num = 0;
        double den = 0;
        for (Sample s : samples) {
            num += (s.atSeconds() - mx) * (value.applyAsLong(s) - my);
            den += (s.atSeconds() - mx) * (s.atSeconds() - mx);
        }
        return den == 0 ? 0 : num / den;
    }

    /** Heap in use right after a full collection: the live set (the pipeline's, the broker's and the test's). */
    private static long liveHeap() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** The group's committed offsets on the raw topic, summed: records the pipeline has finished. */
    private static long committed(Admin admin, String group) {
        try {
            return admin
                    .listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata()
                    .get(10, TimeUnit.SECONDS)
                    .values()
                    .stream()
                    .mapToLong(o -> o == null ? 0 : o.offset())
                    .sum();
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the group's offsets", e);
        }
    }
}
