package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.sinks.lucene.LuceneSinkTask;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTaskContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One junk record must not cost its tenant: an envelope naming a key version the tenant never registered (its KMS
 * answers "no such version") is refused alone, and the tenant's next records are written at once. Before, the sink
 * took the KMS's answer as the tenant's key being gone and set all of its records aside for the fault cool-down.
 */
class JunkEnvelopeIntegrationTest {

    @TempDir
    Path tmp;

    @Test
    void anEnvelopeNamingAnUnregisteredKeyVersion_isRefusedAlone() throws Exception {
        List<Throwable> reported = new ArrayList<>();
        ErrantRecordReporter reporter = (record, error) -> {
            reported.add(error);
            return CompletableFuture.completedFuture(null);
        };
        try (SinkFixture f = new SinkFixture(1);
                Sealed sealed = new Sealed(tmp.resolve("kms"))) {
            KekRef kek = sealed.onboard("acme");
            f.keyEvent("acme", KeyEventType.REGISTERED, kek);
            Map<String, String> c = new HashMap<>(f.luceneCommittingEachTime(sealed.kmsDir, tmp.resolve("lucene")));
            c.put("name", "junk");
            c.put(EmbedsealSinkConfig.TASK_INDEX, "0");
            LuceneSinkTask task = new LuceneSinkTask();
            task.initialize((SinkTaskContext) Proxy.newProxyInstance(
                    SinkTaskContext.class.getClassLoader(), new Class<?>[] {SinkTaskContext.class}, (p, m, a) -> {
                        if (m.getName().equals("errantRecordReporter")) {
                            return reporter;
                        }
                        if (m.getName().equals("assignment")) {
                            return java.util.Set.of();
                        }
                        return m.getName().equals("configs") ? Map.of() : null;
                    }));
            task.start(c);
            try {
                Random random = new Random(1);
                byte[] junk = sealed.seal("acme", "junk", Sealed.randomVector(random, 8));
                String ref = kek.keyName() + ":" + kek.version();
                String forged = kek.keyName() + ":9";
                assertThat(forged).hasSameSizeAs(ref);
                int at = indexOf(junk, ref.getBytes(StandardCharsets.UTF_8));
                assertThat(at).isPositive();
                System.arraycopy(forged.getBytes(StandardCharsets.UTF_8), 0, junk, at, forged.length());

                task.put(List.of(record("acme/junk", junk, 1)));
                task.put(
                        List.of(record("acme/doc-1", sealed.seal("acme", "doc-1", Sealed.randomVector(random, 8)), 2)));
                task.preCommit(new HashMap<>());

                assertThat(reported)
                        .singleElement()
                        .satisfies(e -> assertThat(e.getMessage())
                                .startsWith("INVALID_ENVELOPE")
                                .contains("never registered"));
                assertThat(TestIndexes.count(tmp.resolve("lucene"), "acme"))
                        .as("the tenant's next record, written at once")
                        .isEqualTo(1);
                assertThat(task.counters().tenantFaults()).isZero();
            } finally {
                task.stop();
            }
        }
    }

    private static SinkRecord record(String key, byte[] value, long offset) {
        return new SinkRecord("sealed", 0, null, key.getBytes(StandardCharsets.UTF_8), null, value, offset);
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
