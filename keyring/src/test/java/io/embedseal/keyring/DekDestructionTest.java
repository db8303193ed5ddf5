package io.embedseal.keyring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekDestroyedException;
import io.embedseal.keyring.kms.local.LocalKms;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every DEK that leaves a keyring's memory is destroyed: eviction, idle and absolute expiry, size, close. */
class DekDestructionTest {

    private static final byte[] AAD = "record".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private LocalKms local;
    private MutableClock clock;

    @BeforeEach
    void setUp() {
        local = new LocalKms(dir);
        clock = new MutableClock();
    }

    private Keyring.Builder keyring() {
        return Keyring.builder(local).createMissingKeys(local::createKek).clock(clock);
    }

    private static void assertDestroyed(Dek dek) {
        assertThat(dek.isDestroyed()).as("%s destroyed", dek).isTrue();
        assertThatThrownBy(() -> dek.encrypt(new byte[1], AAD))
                .isInstanceOf(DekDestroyedException.class)
                .hasMessageContaining("DEK destroyed");
    }

    @Test
    void evictionDestroysTheTenantsDeks_sealingAndOpened_andNoOtherTenants() throws Exception {
        Keyring writer = keyring().build();
        Keyring keyring = keyring().build();
        Dek sealingA = keyring.sealingDek("a");
        Dek sealingB = keyring.sealingDek("b");
        Dek other = writer.sealingDek("a");
        Dek openedA = keyring.openDek("a", other.kek(), other.id(), other.wrapped());

        keyring.evict("a");

        assertDestroyed(sealingA);
        assertDestroyed(openedA);
        assertThat(sealingB.isDestroyed()).isFalse();
        assertThat(other.isDestroyed()).as("another keyring's").isFalse();
        assertThat(keyring.sealingDek("a").encrypt(new byte[1], AAD)).hasSize(1 + Dek.OVERHEAD);
    }

    @Test
    void closeDestroysEveryDek_andTheKeyringRefusesLaterUse() {
        Keyring keyring = keyring().build();
        Dek a = keyring.sealingDek("a");
        Dek b = keyring.sealingDek("b");

        keyring.close();
        keyring.close();

        assertDestroyed(a);
        assertDestroyed(b);
        assertThat(keyring.cachedDekCount()).isZero();
        assertThat(keyring.activeDekCount()).isZero();
        assertThatThrownBy(() -> keyring.sealingDek("a"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("keyring closed");
        assertThatThrownBy(() -> keyring.openDek("a", a.kek(), a.id(), a.wrapped()))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void idleAndAbsoluteExpiry_destroyTheDek() {
        Keyring keyring = keyring()
                .policy(DekPolicy.defaults()
                        .withCache(100, Duration.ofMinutes(2))
                        .withMaxOpen(Duration.ofMinutes(5)))
                .build();
        Keyring writer = keyring().build();
        Dek idle = writer.sealingDek("idle");
        Dek busy = writer.sealingDek("busy");
        Dek openedIdle = keyring.openDek("idle", idle.kek(), idle.id(), idle.wrapped());
        Dek openedBusy = keyring.openDek("busy", busy.kek(), busy.id(), busy.wrapped());

        for (int minute = 1; minute <= 4; minute++) {
            clock.advance(Duration.ofMinutes(1));
            assertThat(keyring.openDek("busy", busy.kek(), busy.id(), busy.wrapped()))
                    .isSameAs(openedBusy);
        }
        keyring.openDek("idle", idle.kek(), idle.id(), idle.wrapped());
        assertDestroyed(openedIdle); // idle for 4 minutes, past 2
        assertThat(openedBusy.isDestroyed()).isFalse();

        clock.advance(Duration.ofMinutes(1)); // 5 minutes since it was unwrapped, used every minute
        Dek again = keyring.openDek("busy", busy.kek(), busy.id(), busy.wrapped());

        assertThat(again).isNotSameAs(openedBusy);
        assertDestroyed(openedBusy);
    }

    @Test
    void theLeastRecentlyUsedDek_isDestroyedWhenTheCacheIsFull() {
        Keyring writer = keyring().build();
        Keyring reader = keyring()
                .policy(DekPolicy.defaults().withCache(2, Duration.ofMinutes(10)))
                .build();
        List<Dek> opened = new ArrayList<>();
        for (String tenant : new String[] {"a", "b", "c"}) {
            Dek dek = writer.sealingDek(tenant);
            clock.advance(Duration.ofMillis(1));
            opened.add(reader.openDek(tenant, dek.kek(), dek.id(), dek.wrapped()));
        }

        assertDestroyed(opened.get(0));
        assertThat(opened.get(1).isDestroyed()).isFalse();
        assertThat(opened.get(2).isDestroyed()).isFalse();
    }

    /**
     * A sealing DEK replaced at its record limit may have just been handed to another thread: it stays usable, and
     * is destroyed when its lifetime ends. One replaced for its age is destroyed at once.
     */
    @Test
    void aSealingDekReplacedAtItsRecordLimit_staysUsableUntilItsLifetimeEnds() throws Exception {
        Keyring keyring =
                keyring().policy(DekPolicy.defaults().withMaxRecordsPerDek(2)).build();
        Dek first = keyring.sealingDek("a");
        keyring.sealingDek("a");
        Dek second = keyring.sealingDek("a");

        assertThat(second.id()).isNotEqualTo(first.id());
        assertThat(first.encrypt(new byte[1], AAD)).hasSize(1 + Dek.OVERHEAD);

        clock.advance(DekPolicy.DEFAULT_MAX_OPEN);
        Dek third = keyring.sealingDek("a");

        assertThat(third.id()).isNotEqualTo(second.id());
        assertDestroyed(second);
        keyring.openDek("a", third.kek(), third.id(), third.wrapped()); // a write to the cache sweeps it
        assertDestroyed(first);
    }

    /** An expired DEK of a keyring nobody uses any more is destroyed by the background sweep, within seconds. */
    @Test
    void anExpiredDek_isDestroyedWithoutAnyUse() throws Exception {
        Keyring keyring = keyring()
                .policy(DekPolicy.defaults().withMaxOpen(Duration.ofSeconds(1)))
                .build();
        Dek dek = keyring.sealingDek("a");

        clock.advance(Duration.ofSeconds(2));

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!dek.isDestroyed() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertDestroyed(dek);
        assertThat(keyring.cachedDekCount()).isZero();
        keyring.close();
    }

    /**
     * Evictions while threads seal and open through the keyring: every operation either gives the right result or
     * fails with {@link DekDestroyedException} (the caller asks again); none gives a wrong one.
     */
    @Test
    void evictionsUnderLoad_neverGiveAWrongResult() throws Exception {
        Keyring keyring = keyring().build();
        keyring.sealingDek("a");
        ExecutorService pool = Executors.newFixedThreadPool(3);
        AtomicBoolean stop = new AtomicBoolean();
        try {
            List<Future<int[]>> workers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                workers.add(pool.submit(() -> {
                    int ok = 0;
                    int gone = 0;
                    for (int i = 0; !stop.get(); i++) {
                        byte[] plaintext = ("record " + i).getBytes(StandardCharsets.US_ASCII);
                        try {
                            Dek dek = keyring.sealingDek("a");
                            byte[] ct = dek.encrypt(plaintext, AAD);
                            Dek opened = keyring.openDek("a", dek.kek(), dek.id(), dek.wrapped());
                            assertThat(opened.decrypt(ct, AAD)).isEqualTo(plaintext);
                            ok++;
                        } catch (DekDestroyedException e) {
                            gone++;
                        }
                    }
                    return new int[] {ok, gone};
                }));
            }
            Future<Integer> evictor = pool.submit(() -> {
                int n = 0;
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
                while (System.nanoTime() < end) {
                    keyring.evict("a");
                    n++;
                    Thread.sleep(1);
                }
                return n;
            });
            int evictions = evictor.get(60, TimeUnit.SECONDS);
            stop.set(true);
            int ok = 0;
            int gone = 0;
            for (Future<int[]> w : workers) {
                int[] r = w.get(60, TimeUnit.SECONDS);
                ok += r[0];
                gone += r[1];
            }
            System.out.printf(
                    "%d evictions under load: %d operations right, %d failed closed (DEK destroyed), none wrong%n",
                    evictions, ok, gone);
            assertThat(ok).isPositive();
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
    }
}
