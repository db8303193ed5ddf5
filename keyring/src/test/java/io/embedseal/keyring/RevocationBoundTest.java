package io.embedseal.keyring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekDestroyedException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.kms.local.LocalKms;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How soon a revocation stops a keyring from using a tenant's DEKs: at once when {@link Keyring#evict} is called, even
 * with an unwrap in flight (the eviction race), and within {@code dek.max-open-seconds} when the revocation is done
 * only in the KMS (no key event, no eviction).
 */
class RevocationBoundTest {

    @TempDir
    Path dir;

    private LocalKms local;
    private GatedKms gated;
    private MutableClock clock;
    private final ExecutorService pool = Executors.newSingleThreadExecutor();

    @BeforeEach
    void setUp() {
        local = new LocalKms(dir);
        local.createKek("tenant-a");
        gated = new GatedKms(local);
        clock = new MutableClock();
    }

    @AfterEach
    void tearDown() {
        gated.release.countDown();
        pool.shutdownNow();
    }

    /**
     * The eviction race, run deterministically: an open asks the KMS to unwrap; while the KMS is answering, the tenant
     * is revoked (its REVOKED event evicts it, its KMS denies it from now on); then the KMS answers the unwrap that was
     * asked before. That answer must not enter the cache: the open that was in flight fails (it is asked again, and
     * the caller's check of the tenant's state or the KMS then refuses it), and the next open goes to the KMS, which
     * refuses it.
     */
    @Test
    void anUnwrapInFlightDuringEviction_isNotCached_andTheNextOpenAsksTheKms() throws Exception {
        Keyring reader = Keyring.builder(gated).clock(clock).build();
        Dek sealing = Keyring.builder(local).clock(clock).build().sealingDek("a");

        RaceOutcome outcome = runTheRace(reader, sealing);

        assertThat(outcome.inFlight)
                .as("the open that was in flight when the tenant was evicted")
                .isInstanceOf(DekDestroyedException.class)
                .isInstanceOf(KmsUnavailableException.class)
                .hasMessageContaining("evicted");
        assertThat(outcome.next)
                .as("the next open is not served from the cache: the KMS is asked and refuses")
                .isInstanceOf(KeyDeniedException.class);
        assertThat(outcome.unwrapsByNextOpen).isEqualTo(1);
        assertThat(reader.cachedDekCount()).isZero();
    }

    /** The same race with the epoch check off: the old behaviour, a revoked tenant's DEK served from memory. */
    @Test
    void withoutTheEpochCheck_theRaceServesARevokedTenantsDekFromTheCache() throws Exception {
        Keyring reader = Keyring.builder(gated).clock(clock).epochCheck(false).build();
        Dek sealing = Keyring.builder(local).clock(clock).build().sealingDek("a");

        RaceOutcome outcome = runTheRace(reader, sealing);

        assertThat(outcome.inFlight).isNull();
        assertThat(outcome.next)
                .as("served from the cache, without asking the KMS")
                .isNull();
        assertThat(outcome.unwrapsByNextOpen).isZero();
    }

    /** The same race on the sealing side: a DEK wrapped for a call that began before the eviction is not cached. */
    @Test
    void aWrapInFlightDuringEviction_isNotCached() throws Exception {
        Keyring sealer = Keyring.builder(gated).clock(clock).build();
        gated.gateWrap = true;
        Future<Dek> inFlight = pool.submit(() -> sealer.sealingDek("a"));
        assertThat(gated.entered.await(10, TimeUnit.SECONDS)).isTrue();

        sealer.evict("a");
        gated.release.countDown();

        assertThatThrownBy(() -> inFlight.get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(DekDestroyedException.class)
                .hasMessageContaining("evicted");
        assertThat(sealer.activeDekCount()).isZero();
        assertThat(sealer.cachedDekCount()).isZero();
        gated.gateWrap = false;
        int before = gated.wraps.get();
        sealer.sealingDek("a");
        assertThat(gated.wraps.get() - before).as("the next seal asks the KMS").isEqualTo(1);
    }

    private record RaceOutcome(Throwable inFlight, Throwable next, int unwrapsByNextOpen) {}

    private RaceOutcome runTheRace(Keyring reader, Dek sealing) throws Exception {
        gated.gate = true;
        Future<Dek> inFlight = pool.submit(() -> reader.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped()));
        assertThat(gated.entered.await(10, TimeUnit.SECONDS))
                .as("the unwrap reached the KMS")
                .isTrue();

        reader.evict("a"); // the tenant's REVOKED event
        local.disable("tenant-a"); // and its KMS refuses from now on
        gated.release.countDown(); // the KMS answers the unwrap asked before the revocation
        Throwable inFlightFailure = null;
        try {
            inFlight.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            inFlightFailure = e.getCause();
        }

        gated.gate = false;
        int before = gated.unwraps.get();
        Throwable nextFailure = null;
        try {
            reader.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());
        } catch (RuntimeException e) {
            nextFailure = e;
        }
        return new RaceOutcome(inFlightFailure, nextFailure, gated.unwraps.get() - before);
    }

    /**
     * A revocation done only in the KMS (the key disabled there, no key event): opening and sealing keep working from
     * memory for at most {@code dek.max-open-seconds} (default 300), then the KMS is asked again and refuses. The
     * keyring is used every second of the test clock, so idle expiry never helps; before the absolute lifetime, the
     * opened DEK was served until it idled out and sealing went on until the DEK's age limit (an hour).
     */
    @Test
    void aRevocationOnlyInTheKms_takesEffectWithinTheMaximumOpenTime() {
        Keyring sealer = Keyring.builder(local).clock(clock).build();
        Keyring reader = Keyring.builder(local).clock(clock).build();
        Dek dek = sealer.sealingDek("a");
        reader.openDek("a", dek.kek(), dek.id(), dek.wrapped());

        local.disable("tenant-a");
        long revokedAt = clock.millis();
        Duration openRefusedAfter = null;
        Duration sealRefusedAfter = null;
        for (int second = 1; second <= 2 * 3600 && (openRefusedAfter == null || sealRefusedAfter == null); second++) {
            clock.advance(Duration.ofSeconds(1));
            Duration elapsed = Duration.ofMillis(clock.millis() - revokedAt);
            if (openRefusedAfter == null) {
                try {
                    reader.openDek("a", dek.kek(), dek.id(), dek.wrapped());
                } catch (KeyDeniedException e) {
                    openRefusedAfter = elapsed;
                }
            }
            if (sealRefusedAfter == null) {
                try {
                    sealer.sealingDek("a");
                } catch (KeyDeniedException e) {
                    sealRefusedAfter = elapsed;
                }
            }
        }

        System.out.printf(
                "KMS-only revocation, dek.max-open-seconds=300: opening refused after %s, sealing refused after %s"
                        + " (test clock, used every second)%n",
                openRefusedAfter == null ? "never (2 h)" : openRefusedAfter.toSeconds() + " s",
                sealRefusedAfter == null ? "never (2 h)" : sealRefusedAfter.toSeconds() + " s");
        assertThat(openRefusedAfter).as("opening refused").isNotNull().isLessThanOrEqualTo(Duration.ofMinutes(5));
        assertThat(sealRefusedAfter).as("sealing refused").isNotNull().isLessThanOrEqualTo(Duration.ofMinutes(5));
        assertThatThrownBy(() -> dek.encrypt(new byte[1], new byte[0]))
                .as("the DEK held before the revocation was destroyed when its lifetime ended")
                .isInstanceOf(DekDestroyedException.class);
    }

    /** The local KMS, with an unwrap that can be held inside the KMS until the test lets it answer. */
    static final class GatedKms implements Kms {
        final Kms delegate;
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger unwraps = new AtomicInteger();
        final AtomicInteger wraps = new AtomicInteger();
        volatile boolean gate;
        volatile boolean gateWrap;

        GatedKms(Kms delegate) {
            this.delegate = delegate;
        }

        @Override
        public String provider() {
            return delegate.provider();
        }

        @Override
        public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
            wraps.incrementAndGet();
            WrappedDek answer = delegate.wrapDek(keyName, dek, associatedData);
            if (gateWrap) {
                hold();
            }
            return answer;
        }

        private void hold() {
            entered.countDown();
            try {
                if (!release.await(10, TimeUnit.SECONDS)) {
                    throw new AssertionError("the test never released the call");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }

        @Override
        public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
            unwraps.incrementAndGet();
            if (gate) {
                // The answer is computed first, as the KMS did before the revocation, then held.
                byte[] answer = delegate.unwrapDek(kek, wrappedDek, associatedData);
                hold();
                return answer;
            }
            return delegate.unwrapDek(kek, wrappedDek, associatedData);
        }

        @Override
        public KeyDescription describe(String keyName) {
            return delegate.describe(keyName);
        }
    }
}
