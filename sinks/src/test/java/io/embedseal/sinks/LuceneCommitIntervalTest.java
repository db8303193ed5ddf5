package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneSinkTask;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTaskContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Lucene sink commits its index at most every {@code lucene.commit-interval-ms} while records flow, and hands
 * Connect only the offsets its last index commit made durable: an offset past what the index holds would be a record
 * lost on a crash.
 */
class LuceneCommitIntervalTest {

    @TempDir
    Path tmp;

    static final TopicPartition P0 = new TopicPartition("sealed", 0);

    @Test
    void offsetsNeverRunAheadOfTheIndex() throws Exception {
        try (SinkFixture f = new SinkFixture(1);
                Sealed sealed = new Sealed(tmp.resolve("kms"))) {
            KekRef kek = sealed.onboard("acme");
            f.keyEvent("acme", KeyEventType.REGISTERED, kek);
            Path dir = tmp.resolve("lucene");
            Map<String, String> c = new HashMap<>(f.lucene(sealed.kmsDir, dir));
            c.put(LuceneSinkConfig.COMMIT_INTERVAL_MS, "3600000"); // never due while records flow
            c.put("name", "interval");
            c.put(EmbedsealSinkConfig.TASK_INDEX, "0");
            LuceneSinkTask task = new LuceneSinkTask();
            task.initialize((SinkTaskContext) Proxy.newProxyInstance(
                    SinkTaskContext.class.getClassLoader(),
                    new Class<?>[] {SinkTaskContext.class},
                    (p, m, a) -> m.getName().equals("assignment")
                            ? java.util.Set.of(P0)
                            : m.getName().equals("configs") ? Map.of() : null));
            task.start(c);
            try {
                Random random = new Random(5);
                task.put(List.of(record(sealed, random, "doc-1", 10)));
                Map<TopicPartition, OffsetAndMetadata> first = task.preCommit(offsets(11));
                // Nothing came since the start, then one record: the flow is not idle, nothing committed yet.
                assertThat(first).as("offsets before any index commit").isEmpty();
                assertThat(TestIndexes.count(dir, "acme")).isZero();

                Map<TopicPartition, OffsetAndMetadata> idle = task.preCommit(offsets(11));
                assertThat(idle)
                        .as("nothing arrived since: the index commits, and the offset with it")
                        .isEqualTo(offsets(11));
                assertThat(TestIndexes.count(dir, "acme")).isEqualTo(1);

                task.put(List.of(record(sealed, random, "doc-2", 11)));
                assertThat(task.preCommit(offsets(12)))
                        .as("a record since, not yet in a commit: the last durable offset, not the current one")
                        .isEqualTo(offsets(11));
                assertThat(TestIndexes.count(dir, "acme")).isEqualTo(1);
                assertThat(task.preCommit(offsets(12))).isEqualTo(offsets(12));
                assertThat(TestIndexes.count(dir, "acme")).isEqualTo(2);
            } finally {
                task.stop();
            }
        }
    }

    private static Map<TopicPartition, OffsetAndMetadata> offsets(long next) {
        Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
        m.put(P0, new OffsetAndMetadata(next));
        return m;
    }

    private static SinkRecord record(Sealed sealed, Random random, String id, long offset) {
        return new SinkRecord(
                "sealed",
                0,
                null,
                ("acme/" + id).getBytes(StandardCharsets.UTF_8),
                null,
                sealed.seal("acme", id, Sealed.randomVector(random, 8)),
                offset);
    }
}
