package io.embedseal.keyring.kms.vault;

import static io.embedseal.keyring.kms.vault.OpenBaoKmsContractTest.provider;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.VaultFaultInjector;
import io.embedseal.kms.testsupport.VaultFaultInjector.Fault;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Faults a real server cannot be made to produce, injected between the provider and OpenBao by a proxy (test code):
 * an answer that is not JSON, one cut short, one that hangs mid-body, the server off the network. Each is an outage
 * (the pipeline waits and retries), never a wrong answer, and the provider works again once the fault is gone.
 */
@DisplayName("Vault Transit provider: faults injected in front of a real OpenBao")
class VaultTransitKmsFaultTest {

    private static final byte[] DEK = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] AAD = "embedseal.dek.v1|acme|d1".getBytes(StandardCharsets.US_ASCII);

    private OpenBao.Namespace ns;
    private VaultFaultInjector proxy;
    private KmsProvider kms;
    private String key;

    @BeforeEach
    void start() {
        ns = OpenBao.namespace();
        proxy = VaultFaultInjector.inFrontOf(ns.server());
        kms = provider(
                ns,
                ns.token("embedseal-operator", "embedseal-pipeline"),
                Map.of(
                        "kms.vault.address",
                        proxy.address(),
                        "kms.vault.connect-timeout-ms",
                        "500",
                        "kms.vault.read-timeout-ms",
                        "1000"));
        key = "tenant-" + UUID.randomUUID().toString().substring(0, 12);
        kms.createKek(key);
    }

    @AfterEach
    void stop() {
        proxy.close();
    }

    @ParameterizedTest
    @EnumSource(
            value = Fault.class,
            names = {"MALFORMED_BODY", "TRUNCATED_BODY", "HANG_MID_BODY"})
    void aBrokenAnswer_isAnOutage_neverAWrongDek_andTheProviderRecovers(Fault fault) {
        WrappedDek w = kms.wrapDek(key, DEK, AAD);
        proxy.fault(fault);

        long start = System.nanoTime();
        assertThatThrownBy(() -> kms.wrapDek(key, DEK, AAD))
                .isInstanceOf(KmsUnavailableException.class)
                .hasMessageContaining(proxy.address());
        assertThatThrownBy(() -> kms.unwrapDek(w.kek(), w.wrapped(), AAD)).isInstanceOf(KmsUnavailableException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start))
                .as("bounded by kms.vault.read-timeout-ms, twice")
                .isLessThan(Duration.ofSeconds(10));

        proxy.fault(Fault.NONE);
        assertThat(kms.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void aConnectionClosedWithoutAnAnswer_isTriedOnceMore_thenAnOutage() {
        WrappedDek w = kms.wrapDek(key, DEK, AAD); // leaves a keep-alive connection in the client's pool

        proxy.dropNext(1); // the server closes the pooled connection as it is reused
        assertThat(kms.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
        proxy.dropNext(1);
        WrappedDek again = kms.wrapDek(key, DEK, AAD);
        assertThat(kms.unwrapDek(again.kek(), again.wrapped(), AAD)).isEqualTo(DEK);

        int before = proxy.requestCount();
        proxy.dropNext(3);
        assertThatThrownBy(() -> kms.unwrapDek(w.kek(), w.wrapped(), AAD))
                .as("once more, not in a loop: a second failure is an outage")
                .isInstanceOf(KmsUnavailableException.class)
                .hasMessageContaining("cannot be read");
        assertThat(proxy.requestCount() - before).isEqualTo(2);
        proxy.dropNext(0);
        assertThat(kms.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }

    @Test
    void offTheNetwork_isAnOutage_andTheKeysAreThereWhenItReturns() {
        WrappedDek w = kms.wrapDek(key, DEK, AAD);
        proxy.goOffline();

        assertThatThrownBy(() -> kms.unwrapDek(w.kek(), w.wrapped(), AAD)).isInstanceOf(KmsUnavailableException.class);

        proxy.goOnline();
        assertThat(kms.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }
}
