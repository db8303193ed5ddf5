package io.embedseal.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.VaultFaultInjector;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seed's key-wrapping model on a real OpenBao: the tenant's KEK is an RSA key pair in Transit, its public key
 * pinned in the signed REGISTERED event, and the pipeline seals with that public key alone. Its Vault identity holds no
 * grant on any tenant key (deploy/vault/embedseal-pipeline-public-key.hcl), yet it seals every record, goes on sealing
 * while its KMS is unreachable and after its token is revoked, makes no KMS call to seal, and cannot open what it
 * sealed; the sink's identity can.
 */
class PublicKeyKekIntegrationTest {

    @TempDir
    Path dir;

    @Test
    void aPipelineWithNoRightOnAnyTenantKey_sealsThroughAnOutage_andCannotOpenWhatItSealed() throws Exception {
        try (BrokerFixture fx = new BrokerFixture(2);
                VaultFaultInjector proxy = VaultFaultInjector.inFrontOf(OpenBao.shared())) {
            OpenBao.Namespace ns = OpenBao.namespace();
            ns.writePolicy("embedseal-pipeline-public-key", OpenBao.policyFile("pipeline-public-key"));
            PublicKek acme;
            try (KmsProvider owner = KmsProviders.create(KeyringSettings.of(ns.settings(), n -> ns.rootToken()))) {
                owner.createKek("tenant-acme", KekKind.PUBLIC_KEY);
                acme = Objects.requireNonNull(owner.publicKek("tenant-acme", 1));
            }
            fx.keyEvent("acme", KeyEventType.REGISTERED, acme);

            Map<String, String> through = new HashMap<>(ns.settings());
            through.put("kms.vault.address", proxy.address());
            through.put("kms.vault.connect-timeout-ms", "300");
            through.put("kms.vault.read-timeout-ms", "500");
            String sealerToken = ns.token("embedseal-pipeline-public-key");
            KmsProvider sealerVault = KmsProviders.create(KeyringSettings.of(through, n -> sealerToken));
            CountingKms sealerKms = new CountingKms(sealerVault);
            EmbedsealTopology.Parts parts = Fixtures.parts(
                    fx.topics,
                    fx.registry,
                    sealerKms,
                    EmbeddingValidator.defaults(),
                    Fixtures.fastOptions(false),
                    null,
                    io.embedseal.keyring.DekPolicy.defaults().withMaxRecordsPerDek(10));
            try (KafkaStreams streams = new KafkaStreams(
                    EmbedsealTopology.topology(parts), fx.streams("public-key-" + fx.run, dir.resolve("s")))) {
                streams.start();
                produce(fx, 0, 40);
                assertThat(fx.readUntil(fx.topics.sealed(), rs -> rs.size() >= 40, Duration.ofSeconds(60)))
                        .hasSize(40);

                // The KMS goes away, then the sealer's credential too: nothing changes for sealing.
                proxy.goOffline();
                ns.revoke(sealerToken);
                produce(fx, 40, 100);
                List<ConsumerRecord<byte[], byte[]>> sealed =
                        fx.readUntil(fx.topics.sealed(), rs -> rs.size() >= 100, Duration.ofSeconds(60));

                assertThat(sealed).hasSize(100);
                assertThat(distinctKeys(sealed)).isEqualTo(100);
                assertThat(fx.readAll(fx.topics.dlq())).as("dead letters").isEmpty();
                assertThat(sealerKms.calls.get())
                        .as("KMS calls made to seal 100 records under 10 DEKs")
                        .isZero();

                // The sealing tier cannot open what it sealed, even with a fresh, valid token of its role.
                proxy.goOnline();
                String freshSealerToken = ns.token("embedseal-pipeline-public-key");
                ConsumerRecord<byte[], byte[]> one = sealed.get(0);
                try (KmsProvider again = KmsProviders.create(KeyringSettings.of(through, n -> freshSealerToken));
                        Keyring ring = Keyring.of(again)) {
                    EmbeddingUnsealer own = new EmbeddingUnsealer(new Sealer(ring), null);
                    assertThatThrownBy(() -> own.unseal(one.key(), one.value()))
                            .hasCauseInstanceOf(KeyDeniedException.class)
                            .satisfies(
                                    e -> assertThat(e.getCause().getMessage()).contains("permission denied"));
                }
                // The sink's identity (deploy/vault/embedseal-sink.hcl) opens every record: Vault decrypts the RSA
                // part, the rest is checked here against the tenant and DEK the envelope names.
                String sinkToken = ns.token("embedseal-sink");
                try (KmsProvider sink = KmsProviders.create(KeyringSettings.of(ns.settings(), n -> sinkToken));
                        Keyring ring = Keyring.of(sink)) {
                    EmbeddingUnsealer unsealer = new EmbeddingUnsealer(new Sealer(ring), null);
                    Set<String> opened = new HashSet<>();
                    for (ConsumerRecord<byte[], byte[]> r : sealed) {
                        EmbeddingEvent e = unsealer.unseal(r.key(), r.value()).event();
                        assertThat(e.getTenantId()).isEqualTo("acme");
                        opened.add(e.getEmbeddingId());
                    }
                    assertThat(opened).hasSize(100);
                    assertThat(ring.cacheStats().openMisses())
                            .as("DEKs the sink unwrapped (10 records each)")
                            .isEqualTo(10);
                }
            }
        }
    }

    private static void produce(BrokerFixture fx, int from, int to) {
        for (int i = from; i < to; i++) {
            fx.send(TestEvents.event("acme", "doc-" + i, 24, i));
        }
        fx.flush();
    }

    private static int distinctKeys(List<ConsumerRecord<byte[], byte[]>> records) {
        Set<String> keys = new HashSet<>();
        records.forEach(r -> keys.add(new String(r.key(), StandardCharsets.UTF_8)));
        return keys.size();
    }

    /** Counts every call the pipeline makes to its KMS. */
    static final class CountingKms implements Kms {
        final Kms delegate;
        final AtomicInteger calls = new AtomicInteger();

        CountingKms(Kms delegate) {
            this.delegate = delegate;
        }

        @Override
        public String provider() {
            return delegate.provider();
        }

        @Override
        public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
            calls.incrementAndGet();
            return delegate.wrapDek(keyName, dek, associatedData);
        }

        @Override
        public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
            calls.incrementAndGet();
            return delegate.unwrapDek(kek, wrappedDek, associatedData);
        }

        @Override
        public KeyDescription describe(String keyName) {
            calls.incrementAndGet();
            return delegate.describe(keyName);
        }

        @Override
        public void close() {
            delegate.close();
        }
    }
}
