package io.embedseal.serdes.envelope;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.DekPolicy;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.decorator.InterceptedKms;
import io.embedseal.keyring.kms.decorator.KmsCallStats;
import io.embedseal.keyring.kms.decorator.KmsInstrumentation;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.SoftHsm;
import io.embedseal.kms.testsupport.VaultFaultInjector;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 100,000 records for 10 tenants through the real sealing path: the KMS is called once per DEK, so at most
 * tenants x (1 + rollovers) times, and never per record.
 */
class KmsCallBoundTest {

    private static final int TENANTS = 10;
    private static final int RECORDS = 100_000;
    private static final long RECORDS_PER_DEK = 2_500; // 10,000 records per tenant -> 4 DEKs, 3 rollovers

    @TempDir
    Path dir;

    /** Seals the workload; returns the number of KMS calls counted by the instrumentation. */
    private long sealAll(KmsProvider admin, Kms provider, IntSupplier independentCount) {
        for (int t = 0; t < TENANTS; t++) {
            admin.createKek("tenant-t" + t);
        }
        KmsCallStats stats = new KmsCallStats();
        int before = independentCount.getAsInt();
        Keyring keyring = Keyring.builder(new InterceptedKms(provider, new KmsInstrumentation(stats)))
                .policy(DekPolicy.defaults().withMaxRecordsPerDek(RECORDS_PER_DEK))
                .build();
        Sealer sealer = new Sealer(keyring);
        byte[] payload = new byte[256];
        new Random(1).nextBytes(payload);
        Set<String> deks = new HashSet<>();
        byte[] sample = null;
        for (int i = 0; i < RECORDS; i++) {
            String tenant = "t" + (i % TENANTS);
            byte[] envelope = sealer.seal(
                    tenant,
                    "e" + i,
                    io.embedseal.serdes.envelope.RecordVersion.now(),
                    PayloadType.EMBEDDING_EVENT_AVRO,
                    payload);
            deks.add(EnvelopeHeader.parse(envelope).dekId().toString());
            if (i == RECORDS - 1) {
                sample = envelope;
            }
        }
        long rolloversPerTenant = (RECORDS / TENANTS + RECORDS_PER_DEK - 1) / RECORDS_PER_DEK - 1;
        long bound = TENANTS * (1 + rolloversPerTenant);

        assertThat(deks).hasSize((int) bound);
        assertThat(stats.totalCalls()).as("KMS calls for %d records", RECORDS).isLessThanOrEqualTo(bound);
        assertThat(stats.calls(KmsOperation.WRAP)).isEqualTo(bound);
        assertThat(independentCount.getAsInt() - before)
                .as("calls seen by the KMS itself")
                .isEqualTo((int) stats.totalCalls());
        // and what was sealed opens, through a fresh keyring (one unwrap)
        assertThat(new Sealer(Keyring.of(provider))
                        .unseal(sample, "t9", "e" + (RECORDS - 1))
                        .plaintext())
                .isEqualTo(payload);
        System.out.printf(
                "%s: %,d records, %d tenants, %d DEKs, %d KMS calls (bound %d)%n",
                provider.provider(), RECORDS, TENANTS, deks.size(), stats.totalCalls(), bound);
        return stats.totalCalls();
    }

    @Test
    @DisplayName(
            "vault on OpenBao: 100,000 records for 10 tenants, KMS calls counted by a proxy in front of the server")
    void vault_callsTheKmsOncePerDek() {
        OpenBao.Namespace ns = OpenBao.namespace();
        try (VaultFaultInjector counter = VaultFaultInjector.inFrontOf(ns.server())) {
            Map<String, String> settings = new HashMap<>(ns.settings());
            settings.put("kms.vault.address", counter.address());
            String operatorToken = ns.token("embedseal-operator");
            String pipelineToken = ns.token("embedseal-pipeline");
            KmsProvider operator = KmsProviders.create(KeyringSettings.of(settings, name -> operatorToken));
            KmsProvider pipeline = KmsProviders.create(KeyringSettings.of(settings, name -> pipelineToken));
            assertThat(sealAll(operator, pipeline, counter::requestCount)).isEqualTo(40);
        }
    }

    @Test
    @DisplayName("local: 100,000 records for 10 tenants")
    void local_callsTheKmsOncePerDek() {
        KmsCallStats outer = new KmsCallStats();
        KmsProvider provider = KmsProviders.create(KeyringSettings.of(Map.of("kms.local.dir", dir.toString())));
        Kms kms = new InterceptedKms(provider, new KmsInstrumentation(outer));
        assertThat(sealAll(provider, kms, () -> (int) outer.calls(KmsOperation.WRAP)))
                .isEqualTo(40);
    }

    @Test
    @DisplayName("pkcs11 on SoftHSM2: 100,000 records for 10 tenants")
    void pkcs11_callsTheKmsOncePerDek() {
        KmsCallStats outer = new KmsCallStats();
        KmsProvider provider =
                KmsProviders.create(KeyringSettings.of(SoftHsm.sharedToken().settings()));
        Kms kms = new InterceptedKms(provider, new KmsInstrumentation(outer));
        assertThat(sealAll(provider, kms, () -> (int) outer.calls(KmsOperation.WRAP)))
                .isEqualTo(40);
    }
}
