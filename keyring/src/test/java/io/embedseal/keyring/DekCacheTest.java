package io.embedseal.keyring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class DekCacheTest {

    @Test
    void evictsTheLeastRecentlyUsed_notTheOldestInserted() {
        DekCache<String, String> c = new DekCache<>(2, 1_000);
        c.put("a", "A", 1);
        c.put("b", "B", 2);
        assertThat(c.get("a", 3)).isEqualTo("A"); // a is now more recent than b
        c.put("c", "C", 4);

        assertThat(c.size()).isEqualTo(2);
        assertThat(c.get("b", 5)).isNull();
        assertThat(c.get("a", 5)).isEqualTo("A");
        assertThat(c.get("c", 5)).isEqualTo("C");
    }

    @Test
    void neverEvictsTheEntryJustPut_evenWhenAllWereUsedInTheSameMillisecond() {
        DekCache<String, String> c = new DekCache<>(3, 1_000);
        for (int i = 0; i < 100; i++) {
            c.put("k" + i, "v" + i, 7);
            assertThat(c.get("k" + i, 7)).isEqualTo("v" + i);
            assertThat(c.size()).isLessThanOrEqualTo(3);
        }
    }

    @Test
    void idleEntries_areGoneOnAccess_andSweptByALaterPut() {
        DekCache<String, String> c = new DekCache<>(10, 100);
        c.put("a", "A", 0);
        c.put("b", "B", 0);
        assertThat(c.get("a", 99)).isEqualTo("A");
        assertThat(c.get("a", 199)).isNull(); // idle since 99
        assertThat(c.size()).isEqualTo(1);

        c.put("c", "C", 250); // b, idle since 0, is dropped from memory without being read
        assertThat(c.size()).isEqualTo(1);
        assertThat(c.get("c", 251)).isEqualTo("C");
    }

    @Test
    void concurrentReadersAndWriters_stayWithinTheBound_andReadOnlyWhatWasPut() throws Exception {
        DekCache<Integer, String> c = new DekCache<>(50, 60_000);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        AtomicBoolean stop = new AtomicBoolean();
        try {
            List<Future<?>> readers = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                readers.add(pool.submit(() -> {
                    long t = 0;
                    while (!stop.get()) {
                        int k = (int) (t % 200);
                        String v = c.get(k, ++t);
                        if (v != null && !v.equals("v" + k)) {
                            throw new AssertionError("key " + k + " read " + v);
                        }
                    }
                    return null;
                }));
            }
            List<Future<?>> writers = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                int offset = w;
                writers.add(pool.submit(() -> {
                    for (int i = 0; i < 20_000; i++) {
                        int k = (i * 2 + offset) % 200;
                        c.put(k, "v" + k, i);
                    }
                    return null;
                }));
            }
            for (Future<?> f : writers) {
                f.get(60, TimeUnit.SECONDS);
            }
            stop.set(true);
            for (Future<?> f : readers) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(c.size()).isLessThanOrEqualTo(50);
    }

    @Test
    void anEntryExpiresAtItsAbsoluteLifetime_howeverOftenItIsRead() {
        List<String> removed = new ArrayList<>();
        DekCache<String, String> c = new DekCache<>(10, 1_000, 300, removed::add, removed::add);
        c.put("a", "A", 0);
        for (long t = 100; t < 300; t += 100) {
            assertThat(c.get("a", t)).isEqualTo("A");
        }

        assertThat(c.get("a", 300)).isNull();
        assertThat(removed).containsExactly("A");
    }

    @Test
    void everyValueThatLeaves_isHandedOnExactlyOnce() {
        List<String> removed = new ArrayList<>();
        List<String> replaced = new ArrayList<>();
        DekCache<String, String> c = new DekCache<>(2, 100, 1_000, removed::add, replaced::add);
        c.put("a", "A1", 0);
        c.put("a", "A2", 1); // replaced
        c.put("b", "B", 2);
        c.put("c", "C", 3); // evicts A2, the least recently used
        assertThat(c.get("b", 150)).isNull(); // idle
        c.removeIf("c"::equals);
        c.put("d", "D", 200);
        c.sweep(400); // D idle

        assertThat(replaced).containsExactly("A1");
        assertThat(removed).containsExactly("A2", "B", "C", "D");
        c.put("e", "E", 500);
        c.clear();
        assertThat(removed).endsWith("E");
        assertThat(c.size()).isZero();
    }
}
