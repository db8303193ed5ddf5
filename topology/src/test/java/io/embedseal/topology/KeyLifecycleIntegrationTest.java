package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Key events acting on a running exactly-once topology, through a real broker. */
class KeyLifecycleIntegrationTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    java.nio.file.Path dir;

    private BrokerFixture fx;
    private LocalKms kms;
    private KafkaStreams streams;
    private EmbedsealTopology.Parts parts;

    @BeforeEach
    void start() throws Exception {
        fx = new BrokerFixture(3);
        kms = new LocalKms(dir.resolve("kms"));
        for (String tenant : List.of("acme", "globex")) {
            kms.createKek("tenant-" + tenant);
            fx.keyEvent(tenant, KeyEventType.REGISTERED, 1);
        }
        parts = Fixtures.parts(
                fx.topics, fx.registry, kms, EmbeddingValidator.defaults(), Fixtures.fastOptions(false), null);
        streams = new KafkaStreams(
                EmbedsealTopology.topology(parts), fx.streams("lifecycle-" + fx.run, dir.resolve("state")));
        streams.start();
    }

    @AfterEach
    void stop() {
        streams.close(Duration.ofSeconds(10));
        fx.close();
    }

    @Test
    void revocationStopsTheTenantWithinSeconds_whileOthersContinue_andDestructionIsTerminal() throws Exception {
        AtomicBoolean producing = new AtomicBoolean(true);
        AtomicInteger n = new AtomicInteger();
        Thread load = new Thread(() -> {
            while (producing.get()) {
                int i = n.incrementAndGet();
                fx.send(TestEvents.event("acme", "a-" + i, 32, i));
                fx.send(TestEvents.event("globex", "g-" + i, 32, 100_000 + i));
                fx.flush();
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        load.start();
        try {
            assertThat(fx.readUntil(fx.topics.sealed(), rs -> countTenant(rs, "acme") >= 20, Duration.ofSeconds(60)))
                    .as("acme seals before the revocation")
                    .hasSizeGreaterThanOrEqualTo(20);

            long revokedAt = fx.keyEvent("acme", KeyEventType.REVOKED, 1);
            List<ConsumerRecord<byte[], byte[]>> dead = fx.readUntil(
                    fx.topics.dlq(),
                    rs -> rs.stream()
                            .anyMatch(r -> "TENANT_REVOKED".equals(BrokerFixture.header(r, DeadLetters.REASON_HEADER))),
                    Duration.ofSeconds(30));
            ConsumerRecord<byte[], byte[]> first = dead.stream()
                    .filter(r -> "TENANT_REVOKED".equals(BrokerFixture.header(r, DeadLetters.REASON_HEADER)))
                    .findFirst()
                    .orElseThrow();
            long rejectedAt = Instant.parse(
                            JSON.readTree(first.value()).get("time").asText())
                    .toEpochMilli();
            assertThat(rejectedAt - revokedAt)
                    .as("ms from the REVOKED event to the first rejected record")
                    .isBetween(0L, 5_000L);

            List<ConsumerRecord<byte[], byte[]>> sealedNow = fx.readAll(fx.topics.sealed());
            int acmeSealed = countTenant(sealedNow, "acme");
            int globexBefore = countTenant(sealedNow, "globex");
            List<ConsumerRecord<byte[], byte[]>> later = fx.readUntil(
                    fx.topics.sealed(), rs -> countTenant(rs, "globex") >= globexBefore + 20, Duration.ofSeconds(30));
            assertThat(countTenant(later, "globex"))
                    .as("globex keeps flowing after acme's revocation")
                    .isGreaterThanOrEqualTo(globexBefore + 20);
            assertThat(countTenant(later, "acme"))
                    .as("no acme record is sealed after its first rejection")
                    .isEqualTo(acmeSealed);

            fx.keyEvent("acme", KeyEventType.DESTROYED, 1);
            kms.destroy("tenant-acme");
            fx.keyEvent("acme", KeyEventType.RESTORED, 1);
            fx.keyEvent("acme", KeyEventType.REGISTERED, 1);
            int destroyedBefore = countReason(fx.readAll(fx.topics.dlq()), "TENANT_DESTROYED");
            assertThat(countReason(
                            fx.readUntil(
                                    fx.topics.dlq(),
                                    rs -> countReason(rs, "TENANT_DESTROYED") >= destroyedBefore + 5,
                                    Duration.ofSeconds(30)),
                            "TENANT_DESTROYED"))
                    .isGreaterThanOrEqualTo(destroyedBefore + 5);
            assertThat(countTenant(fx.readAll(fx.topics.sealed()), "acme"))
                    .as("a destroyed tenant never comes back")
                    .isEqualTo(acmeSealed);
        } finally {
            producing.set(false);
            load.join();
        }
    }

    @Test
    void rotationSwitchesTheKekVersion_andOldRecordsStayReadable() throws Exception {
        fx.send(TestEvents.event("globex", "before", 16, 1));
        fx.flush();
        fx.readUntil(fx.topics.sealed(), rs -> rs.size() >= 1, Duration.ofSeconds(30));

        kms.rotate("tenant-globex");
        fx.keyEvent("globex", KeyEventType.ROTATED, 2);
        // The key event and the next record travel on different topics: wait until this instance applied it.
        long deadline = System.currentTimeMillis() + 30_000;
        while (parts.directory().get("globex").kekVersion() != 2 && System.currentTimeMillis() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(parts.directory().get("globex").kekVersion()).isEqualTo(2);
        fx.send(TestEvents.event("globex", "after", 16, 2));
        fx.flush();

        List<ConsumerRecord<byte[], byte[]>> sealed =
                fx.readUntil(fx.topics.sealed(), rs -> rs.size() >= 2, Duration.ofSeconds(30));
        Sealer reader = new Sealer(Keyring.of(new LocalKms(dir.resolve("kms"))));
        for (ConsumerRecord<byte[], byte[]> r : sealed) {
            SealedRecordKey key = SealedRecordKey.parse(r.key());
            int version = reader.unseal(r.value(), key.tenantId(), key.embeddingId())
                    .header()
                    .kek()
                    .version();
            assertThat(version).as(key.toString()).isEqualTo(key.embeddingId().equals("after") ? 2 : 1);
        }
    }

    @Test
    void anUnknownTenant_isRejected() {
        fx.send(TestEvents.event("initech", "doc-1", 16, 1));
        fx.flush();

        List<ConsumerRecord<byte[], byte[]>> dead =
                fx.readUntil(fx.topics.dlq(), rs -> !rs.isEmpty(), Duration.ofSeconds(30));

        assertThat(dead)
                .extracting(r -> BrokerFixture.header(r, DeadLetters.REASON_HEADER))
                .containsExactly("UNKNOWN_TENANT");
        assertThat(fx.readAll(fx.topics.sealed())).isEmpty();
    }

    static int countTenant(List<ConsumerRecord<byte[], byte[]>> rs, String tenant) {
        return (int) rs.stream()
                .filter(r -> BrokerFixture.key(r).startsWith(tenant + "/"))
                .count();
    }

    static int countReason(List<ConsumerRecord<byte[], byte[]>> rs, String reason) {
        return (int) rs.stream()
                .filter(r -> reason.equals(BrokerFixture.header(r, DeadLetters.REASON_HEADER)))
                .count();
    }
}
