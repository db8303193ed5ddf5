package io.embedseal.keyring.kms.decorator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.KekNaming;
import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.kms.local.LocalKms;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DecoratorsTest {

    private static final byte[] DEK = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] AAD = "aad".getBytes(StandardCharsets.US_ASCII);
    private static final RetryPolicy FAST = new RetryPolicy(4, Duration.ofMillis(100), Duration.ofMillis(300));

    @TempDir
    Path dir;

    /** A KMS whose calls fail {@code failures} times with the given exception, then go to the local KMS. */
    private KmsProvider flaky(RuntimeException failure, int failures, AtomicInteger calls) {
        LocalKms local = new LocalKms(dir);
        local.createKek("tenant-a");
        return (KmsProvider) Proxy.newProxyInstance(
                Kms.class.getClassLoader(), new Class<?>[] {KmsProvider.class}, (proxy, m, args) -> {
                    if (m.getName().equals("provider")
                            || m.getName().equals("supportedOperations")
                            || m.getName().equals("close")
                            || m.getName().equals("ownerAdvice")) {
                        return m.invoke(local, args);
                    }
                    if (calls.incrementAndGet() <= failures) {
                        throw failure;
                    }
                    try {
                        return m.invoke(local, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static Kms retrying(Kms kms, KmsRetry.Sleeper sleeper) {
        return new InterceptedKms(kms, new KmsRetry(FAST, sleeper));
    }

    @Test
    void retry_onUnavailable_withJitteredWaitsWithinTheCeilings() {
        AtomicInteger calls = new AtomicInteger();
        List<Long> waits = new ArrayList<>();
        Kms kms = retrying(flaky(new KmsUnavailableException("down"), 3, calls), waits::add);

        WrappedDek w = kms.wrapDek("tenant-a", DEK, AAD);

        assertThat(w.kek().version()).isEqualTo(1);
        assertThat(calls.get()).isEqualTo(4);
        assertThat(waits).hasSize(3);
        assertThat(waits.get(0)).isBetween(0L, 100L);
        assertThat(waits.get(1)).isBetween(0L, 200L);
        assertThat(waits.get(2)).isBetween(0L, 300L);
    }

    @Test
    void retry_givesUpAfterMaxAttempts_withTheLastError() {
        AtomicInteger calls = new AtomicInteger();
        Kms kms = retrying(flaky(new KmsUnavailableException("down"), 100, calls), ms -> {});

        assertThatThrownBy(() -> kms.wrapDek("tenant-a", DEK, AAD)).isInstanceOf(KmsUnavailableException.class);
        assertThat(calls.get()).isEqualTo(4);
    }

    @Test
    void retry_neverRetriesADenial() {
        AtomicInteger calls = new AtomicInteger();
        Kms kms = retrying(flaky(new KeyDeniedException("revoked"), 100, calls), ms -> {});

        assertThatThrownBy(() -> kms.wrapDek("tenant-a", DEK, AAD)).isInstanceOf(KeyDeniedException.class);
        assertThat(calls.get()).isEqualTo(1);
    }

    @Test
    void retry_neverRepeatsARotation() {
        AtomicInteger calls = new AtomicInteger();
        KeyAdministration admin = new InterceptedKeyAdministration(
                flaky(new KmsUnavailableException("timeout"), 1, calls), new KmsRetry(FAST, ms -> {}));

        assertThatThrownBy(() -> admin.rotate("tenant-a")).isInstanceOf(KmsUnavailableException.class);
        assertThat(calls.get()).isEqualTo(1);
    }

    @Test
    void retry_stopsWhenInterrupted() {
        AtomicInteger calls = new AtomicInteger();
        Kms kms = retrying(flaky(new KmsUnavailableException("down"), 100, calls), ms -> {
            throw new InterruptedException();
        });

        assertThatThrownBy(() -> kms.wrapDek("tenant-a", DEK, AAD)).isInstanceOf(KmsUnavailableException.class);
        assertThat(Thread.interrupted()).isTrue();
        assertThat(calls.get()).isEqualTo(1);
    }

    @Test
    void instrumentation_countsEveryAttempt_byOperationAndOutcome() {
        AtomicInteger calls = new AtomicInteger();
        KmsCallStats stats = new KmsCallStats();
        Kms kms = retrying(
                new InterceptedKms(flaky(new KmsUnavailableException("down"), 2, calls), new KmsInstrumentation(stats)),
                ms -> {});

        WrappedDek w = kms.wrapDek("tenant-a", DEK, AAD);
        kms.unwrapDek(w.kek(), w.wrapped(), AAD);

        assertThat(stats.calls(KmsOperation.WRAP, KmsOutcome.UNAVAILABLE)).isEqualTo(2);
        assertThat(stats.calls(KmsOperation.WRAP, KmsOutcome.OK)).isEqualTo(1);
        assertThat(stats.calls(KmsOperation.UNWRAP)).isEqualTo(1);
        assertThat(stats.errors()).isEqualTo(2);
        assertThat(stats.snapshot().values()).allSatisfy(v -> assertThat(v[1]).isPositive());
    }

    @Test
    void audit_oneEventPerOperation_withTenantVersionAndOutcome_andNoKeyMaterial() {
        AtomicInteger calls = new AtomicInteger();
        List<KmsAuditEvent> events = new ArrayList<>();
        KmsProvider provider = flaky(new KmsUnavailableException("down"), 1, calls);
        KmsAuditing auditing = new KmsAuditing(KekNaming.defaults()::tenantFor, events::add, Clock.systemUTC());
        Kms kms = new InterceptedKms(retrying(provider, ms -> {}), auditing);
        KeyAdministration admin = new InterceptedKeyAdministration(provider, auditing);

        WrappedDek w = kms.wrapDek("tenant-a", DEK, AAD);
        admin.rotate("tenant-a");
        assertThatThrownBy(() -> kms.describe("tenant-nobody")).isInstanceOf(RuntimeException.class);

        assertThat(events).hasSize(3);
        KmsAuditEvent wrap = events.get(0);
        assertThat(wrap.operation()).isEqualTo(KmsOperation.WRAP);
        assertThat(wrap.tenantId()).isEqualTo("a");
        assertThat(wrap.keyName()).isEqualTo("tenant-a");
        assertThat(wrap.kekVersion()).isEqualTo(w.kek().version());
        assertThat(wrap.outcome())
                .as("one event, with the final outcome after the retry")
                .isEqualTo(KmsOutcome.OK);
        assertThat(events.get(1).kekVersion()).isEqualTo(2);
        assertThat(events.get(2).outcome()).isEqualTo(KmsOutcome.UNKNOWN_KEY);
        assertThat(events.get(2).tenantId()).isEqualTo("nobody");
        assertThat(events.get(2).detail()).contains("tenant-nobody");
        String all = events.toString();
        assertThat(all)
                .doesNotContain(
                        new String(DEK, StandardCharsets.US_ASCII),
                        Base64.getEncoder().encodeToString(DEK),
                        HexFormat.of().formatHex(DEK));
    }

    @Test
    void audit_failureOfTheListener_failsTheOperation() {
        LocalKms local = new LocalKms(dir);
        local.createKek("tenant-a");
        Kms kms = new InterceptedKms(
                local,
                new KmsAuditing(
                        KekNaming.defaults()::tenantFor,
                        e -> {
                            throw new IllegalStateException("audit sink down");
                        },
                        Clock.systemUTC()));

        assertThatThrownBy(() -> kms.wrapDek("tenant-a", DEK, AAD)).hasMessageContaining("audit sink down");
    }
}
