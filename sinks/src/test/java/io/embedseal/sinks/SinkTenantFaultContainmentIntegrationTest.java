package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.VaultFaultInjector;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.testkit.EmbeddedConnect;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One tenant's fault stays that tenant's in a sink too. The Lucene sink in index mode unseals every record through
 * the tenants' KMS, on a real Connect worker: with one tenant of ten faulty, the other nine are indexed at (nearly)
 * the rate they are without the fault, the faulty tenant's records go to the connector's dead-letter topic with a
 * reason (still sealed, for replay), nothing is lost, and the task keeps running. A tenant that never registered is
 * refused the same way. Rates are measured side by side in pairs (baseline and fault, in alternating order), from
 * Connect's own count of records put, and the median of two to five pairs' ratios is checked on this noisy machine;
 * every pair is printed.
 */
@Tag("containment")
class SinkTenantFaultContainmentIntegrationTest {

    private static final int TENANTS = 10;
    private static final int PER_TENANT = Integer.getInteger("embedseal.containment.sink-records", 800);
    private static final int DIMS = 64;
    private static final double MIN_RATIO = 0.9;
    /** Pairs measured at most while their median ratio is below {@link #MIN_RATIO}: this VM is shared and noisy. */
    private static final int PAIRS = 5;

    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final List<String> REPORT = new CopyOnWriteArrayList<>();

    private static OpenBao.Namespace ns;
    private static VaultFaultInjector vault;
    private static String token;
    private static EmbeddedConnect connect;
    private static Path workerDir;
    /** The KMS kinds the JVM has warmed up with. */
    private static final Set<String> WARMED = new java.util.HashSet<>();

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        ns = OpenBao.namespace();
        vault = VaultFaultInjector.inFrontOf(ns.server());
        token = ns.token("embedseal-operator", "embedseal-sink", "embedseal-pipeline");
        workerDir = Files.createTempDirectory("embedseal-containment-worker");
        connect = EmbeddedConnect.start(
                io.embedseal.testkit.EmbeddedKafkaBroker.shared().bootstrapServers(),
                workerDir.resolve("offsets"),
                // preCommit (and with it the index's commit, which makes records visible) every second, so a run
                // does not wait Connect's default minute to see its records indexed. Not 100 ms: at each offset
                // commit Connect waits for the dead letters sent since the last one to be acknowledged (so that an
                // offset never passes a dead letter that was lost), and ten such waits a second cost the other
                // tenants ~10% in a fault run (measured: the task thread's wall time per record grew by ~14 µs, its
                // CPU time did not; with the dead-letter report switched off the fault runs were the faster ones).
                Map.of("offset.flush.interval.ms", "1000"));
    }

    @AfterAll
    static void stop() {
        if (connect != null) {
            connect.close();
        }
        if (vault != null) {
            vault.close();
        }
        System.out.println();
        System.out.println("Lucene sink (index mode) tenant fault containment (one tenant of " + TENANTS + " faulty, "
                + PER_TENANT * TENANTS + " records pre-loaded per run, " + DIMS + " dims):");
        System.out.println(
                "| fault | KMS | other tenants' rate with / without the fault: median ratio (pairs) | at the median batch, not checked: median (pairs) | faulty tenant: indexed / dead-lettered (reason) | lost |");
        System.out.println("|---|---|---|---|---|---|");
        REPORT.forEach(System.out::println);
    }

    @Test
    void denied() throws Exception {
        vaultFault("denied (HTTP 403)", VaultFaultInjector.Fault.HTTP_403, "TENANT_REVOKED");
    }

    @Test
    void badRequest() throws Exception {
        vaultFault("HTTP 400", VaultFaultInjector.Fault.HTTP_400, "KEY_FAILED");
    }

    @Test
    void serverErrorOnTheKey() throws Exception {
        vaultFault("HTTP 500 on the key", VaultFaultInjector.Fault.HTTP_500, "KEY_FAILED");
    }

    @Test
    void timeout() throws Exception {
        vaultFault(
                "timeout (answers after " + VaultFaultInjector.SLOW_MILLIS + " ms)",
                VaultFaultInjector.Fault.SLOW,
                "KEY_FAILED");
    }

    @Test
    void corruptLocalKeyset() throws Exception {
        measure(
                "corrupt keyset file",
                "local",
                (faulty, kmsDir) -> Files.writeString(
                        kmsDir.resolve("tenant-" + faulty + ".keyset.json"), "{\"primaryKeyId\": 1, \"key\": ["),
                "KEY_FAILED",
                false);
    }

    @Test
    void unregisteredTenant() throws Exception {
        // Not a key fault: the tenant never registered. Before, its records were indexed; now they are refused.
        measure("never registered", "local", (faulty, kmsDir) -> {}, "TENANT_UNREGISTERED", true);
    }

    private void vaultFault(String label, VaultFaultInjector.Fault fault, String reason) throws Exception {
        List<String> keys = new ArrayList<>();
        try {
            measure(
                    label,
                    "vault",
                    (faulty, kmsDir) -> {
                        vault.faultKey("tenant-" + faulty, fault);
                        keys.add("tenant-" + faulty);
                    },
                    reason,
                    false);
        } finally {
            keys.forEach(k -> vault.faultKey(k, VaultFaultInjector.Fault.NONE));
        }
    }

    @FunctionalInterface
    interface Injection {
        void inject(String faultyTenant, Path kmsDir) throws Exception;
    }

    /**
     * One run: what was indexed and dead-lettered, and the seconds per record of each batch the task's put() took
     * after the first.
     */
    record Figures(
            long healthyIndexed,
            List<Double> secondsPerRecord,
            long faultyIndexed,
            long faultyDead,
            Set<String> reasons) {

        /** The other tenants' records per second: their share of a batch over its median time. */
        double healthyRate() {
            return otherTenantsRate(secondsPerRecord);
        }

        /**
         * The other tenants' records per second over the whole run after the first batch: every batch's time counts,
         * so a stall in fewer than half of them, which the median leaves out, is here.
         */
        double wholeRunRate() {
            double seconds = 0;
            for (double s : secondsPerRecord) {
                seconds += s;
            }
            return (TENANTS - 1) / (double) TENANTS / (seconds / secondsPerRecord.size());
        }
    }

    /** Nine tenants of ten are the others: their records per second, at the median batch's seconds per record. */
    static double otherTenantsRate(List<Double> secondsPerRecord) {
        return (TENANTS - 1) / (double) TENANTS / median(secondsPerRecord);
    }

    private void measure(String label, String kind, Injection injection, String reason, boolean unregistered)
            throws Exception {
        if (WARMED.add(kind)) {
            // Warm-up, not compared: three runs (the JIT; with one, the first test's pairs leaned below 1).
            for (int i = 0; i < 3; i++) {
                checkBaseline(run(kind, (t, d) -> {}, false));
            }
        }
        // And one run with the fault, not compared either: its error paths (the KMS client's, the dead-letter
        // reporter's) are compiled in fault runs only, so the first pairs of each fault otherwise leaned below 1.
        check(run(kind, injection, unregistered), reason);
        // Pairs run side by side (see runSideBySide), started in alternating order. The ratio checked is the
        // other tenants' rate over the time both runs were working (every batch's time, so a stall in any of them
        // counts; without the cool-down the ratio falls to ~0.02), its median over two to five pairs (more only while
        // it is below MIN_RATIO). The rate at each run's median batch is printed beside it: it leaves out a stall in
        // fewer than half of the batches, and with two tasks sharing the cores batch by batch it scatters more.
        List<Double> ratios = new ArrayList<>();
        List<Double> wholeRunRatios = new ArrayList<>();
        double median = 0;
        double wholeRunMedian = 0;
        while (ratios.size() < PAIRS && (ratios.size() < 2 || wholeRunMedian < MIN_RATIO)) {
            boolean baseFirst = ratios.size() % 2 == 0;
            Figures[] both = runSideBySide(kind, injection, unregistered, baseFirst);
            Figures base = both[0];
            Figures fault = both[1];
            check(fault, reason);
            checkBaseline(base);
            ratios.add(fault.healthyRate() / base.healthyRate());
            wholeRunRatios.add(fault.wholeRunRate() / base.wholeRunRate());
            median = median(ratios);
            wholeRunMedian = median(wholeRunRatios);
            System.out.printf(
                    Locale.ROOT,
                    "sink containment %s, pair %d (%s first): other tenants %.0f records/s without, %.0f with "
                            + "(ratio %.3f; median of %d pairs %.3f); whole runs %.0f / %.0f (ratio %.3f; median %.3f)%n",
                    label,
                    ratios.size(),
                    baseFirst ? "baseline" : "fault",
                    base.healthyRate(),
                    fault.healthyRate(),
                    fault.healthyRate() / base.healthyRate(),
                    ratios.size(),
                    median,
                    base.wholeRunRate(),
                    fault.wholeRunRate(),
                    fault.wholeRunRate() / base.wholeRunRate(),
                    wholeRunMedian);
        }
        REPORT.add(String.format(
                Locale.ROOT,
                "| %s | %s | %.2f (pairs %s) | %.2f (pairs %s) | 0 / %d (%s) | 0 |",
                label,
                kind,
                wholeRunMedian,
                twoPlaces(wholeRunRatios),
                median,
                twoPlaces(ratios),
                PER_TENANT,
                reason));
        assertThat(wholeRunMedian)
                .as("the other tenants' rate with the fault / without (" + label + "), the median of "
                        + wholeRunRatios.size() + " pairs " + wholeRunRatios)
                .isGreaterThanOrEqualTo(MIN_RATIO);
    }

    private static String twoPlaces(List<Double> values) {
        StringBuilder b = new StringBuilder();
        for (double v : values) {
            b.append(b.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", v));
        }
        return b.toString();
    }

    /** Every baseline run: every tenant's records indexed, none dead-lettered. */
    private static void checkBaseline(Figures f) {
        assertThat(f.healthyIndexed()).isEqualTo((long) (TENANTS - 1) * PER_TENANT);
        assertThat(f.faultyIndexed())
                .as("the tenant's records indexed in a baseline")
                .isEqualTo(PER_TENANT);
        assertThat(f.faultyDead()).as("dead letters in a baseline").isZero();
        assertThat(f.reasons()).isEmpty();
    }

    static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        java.util.Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** Every fault run: the others all indexed, the faulty tenant's records all dead-lettered with the reason, none lost. */
    private static void check(Figures f, String reason) {
        long lost = (long) TENANTS * PER_TENANT - f.healthyIndexed() - f.faultyIndexed() - f.faultyDead();
        assertThat(f.healthyIndexed()).isEqualTo((long) (TENANTS - 1) * PER_TENANT);
        assertThat(f.faultyIndexed()).as("the faulty tenant's records indexed").isZero();
        assertThat(f.faultyDead())
                .as("the faulty tenant's records dead-lettered")
                .isEqualTo(PER_TENANT);
        assertThat(f.reasons()).containsExactly(reason);
        assertThat(lost).as("records lost").isZero();
    }

    /** One run alone (the warm-ups). */
    private Figures run(String kind, Injection injection, boolean unregistered) throws Exception {
        try (Runner r = new Runner(kind, injection, unregistered)) {
            r.start();
            timeSideBySide(List.of(r));
            return r.finish();
        }
    }

    /**
     * A baseline and a fault run at the same time, each its own connector (one task) on the same worker, started in
     * the given order: this shared machine's slow phases then hit both alike, where runs one after the other differed
     * by up to 2× between neighbours. Returns {baseline, fault}.
     */
    private Figures[] runSideBySide(String kind, Injection injection, boolean unregistered, boolean baseFirst)
            throws Exception {
        try (Runner base = new Runner(kind, (t, d) -> {}, false);
                Runner fault = new Runner(kind, injection, unregistered)) {
            (baseFirst ? base : fault).start();
            (baseFirst ? fault : base).start();
            timeSideBySide(List.of(base, fault));
            return new Figures[] {base.finish(), fault.finish()};
        }
    }

    /**
     * Times the runners' batches: each between two changes of Connect's own count of the records its task has put
     * (counted when put() returns; read every millisecond), so a batch's time is its poll and put. A runner's first
     * batch is left out: task start-up, and the faulty tenant's first KMS call (one deadline per cool-down is a
     * documented cost, not the other tenants' rate). Side by side, only batches that end while every runner is still
     * working count: the one that finishes first leaves the other the machine to itself. (It used to be the time from
     * the first record visible in the index to the last, but the index shows records at its commits only, and since
     * the sink keeps up a run fits in a few of them: the ratio then measured the commit cadence, a baseline of
     * 7,200,000 records/s was seen, and one CI run failed on it.)
     */
    private static void timeSideBySide(List<Runner> runners) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        boolean allWorking = true;
        while (System.nanoTime() < deadline) {
            boolean anyLeft = false;
            boolean anyDone = false;
            for (Runner r : runners) {
                r.poll(allWorking);
                anyLeft |= !r.done();
                anyDone |= r.done();
            }
            allWorking &= !anyDone;
            if (!anyLeft) {
                break;
            }
            Thread.sleep(1);
        }
        for (Runner r : runners) {
            assertThat(r.lastCount).as("every record put within " + WAIT).isEqualTo(r.total);
            assertThat(r.secondsPerRecord).as("batches timed").isNotEmpty();
        }
    }

    /** One connector over its own topics, tenants and index: ten tenants, the first of them the faulty one. */
    private final class Runner implements AutoCloseable {

        final SinkFixture f = new SinkFixture(1);
        final KmsProvider provider;
        final List<String> tenants = new ArrayList<>();
        final String faulty;
        final Path luceneDir = tmp.resolve("lucene-" + System.nanoTime());
        final Map<String, String> c;
        final String name;
        final long total = (long) TENANTS * PER_TENANT;
        final List<Double> secondsPerRecord = new ArrayList<>();
        long lastCount;
        long lastChange;
        long deadline;
        boolean deleted;

        Runner(String kind, Injection injection, boolean unregistered) throws Exception {
            Path kmsDir = tmp.resolve("kms-" + System.nanoTime());
            Map<String, String> kms = kmsSettings(kind, kmsDir);
            provider = KmsProviders.create(KeyringSettings.of(kms, n -> token));
            Keyring keyring = Keyring.builder(provider).build();
            Sealer sealer = new Sealer(keyring);
            for (int i = 0; i < TENANTS; i++) {
                tenants.add("s" + i + "-" + f.run);
            }
            faulty = tenants.get(0);
            for (String t : tenants) {
                KekRef kek = provider.createKek("tenant-" + t);
                if (!(unregistered && t.equals(faulty))) {
                    f.keyEvent(t, KeyEventType.REGISTERED, kek);
                }
            }
            Random random = new Random(11);
            for (int i = 0; i < PER_TENANT; i++) {
                for (String t : tenants) {
                    String id = "doc-" + i;
                    f.sendSealed(
                            t,
                            id,
                            sealer.seal(
                                    t,
                                    id,
                                    io.embedseal.serdes.envelope.RecordVersion.now(),
                                    PayloadType.EMBEDDING_EVENT_AVRO,
                                    EmbeddingEventCodec.toCanonicalAvro(
                                            Sealed.event(t, id, Sealed.randomVector(random, DIMS)))));
                }
            }
            f.producer.flush();
            keyring.close();
            injection.inject(faulty, kmsDir);

            c = f.common(kmsDir, f.connectDlq);
            c.putAll(kms);
            // -Dembedseal.containment.sink-cooldown-ms=0 switches the defence off: every faulty record then asks the
            // KMS again, and the ratio falls to ~0.02 (HTTP 500, measured); the test then fails, as it should.
            c.put(
                    EmbedsealSinkConfig.TENANT_FAULT_COOLDOWN_MS,
                    System.getProperty("embedseal.containment.sink-cooldown-ms", "60000"));
            if (kind.equals("vault")) {
                c.put(EmbedsealSinkConfig.VAULT_TOKEN, token);
            }
            c.put("connector.class", io.embedseal.sinks.lucene.LuceneSinkConnector.class.getName());
            c.put(io.embedseal.sinks.lucene.LuceneSinkConfig.DIR, luceneDir.toString());
            // One index thread: the window is then the task's own work, which a fault could hold up, and not how
            // indexing lanes happen to share this machine's two cores (with lanes, pairs ranged 0.57 to 1.55).
            c.put(io.embedseal.sinks.lucene.LuceneSinkConfig.INDEX_THREADS, "1");
            TestIndexes.register(luceneDir, c);
            name = "contain-" + f.run;
        }

        void start() {
            connect.putConnector(name, c);
            deadline = System.nanoTime() + WAIT.toNanos();
        }

        boolean done() {
            return lastCount >= total;
        }

        void poll(boolean timed) throws Exception {
            if (done()) {
                return;
            }
            long put = recordsPut(name);
            if (put != lastCount) {
                long now = System.nanoTime();
                if (lastCount > 0 && timed) {
                    secondsPerRecord.add((now - lastChange) / 1e9 / (put - lastCount));
                }
                lastCount = put;
                lastChange = now;
            }
        }

        /**
         * Waits until every record is accounted for: the others indexed, and the faulty tenant's records indexed (a
         * baseline) or dead-lettered. Each tenant's index commits on its own, so the faulty tenant's may still be on
         * its way when the others' are visible (waiting for dead letters then was a 120 s stall).
         */
        Figures finish() throws Exception {
            long expected = (long) (TENANTS - 1) * PER_TENANT;
            long indexed = 0;
            long faultyIndexed = 0;
            List<ConsumerRecord<byte[], byte[]>> dead = new ArrayList<>();
            while (System.nanoTime() < deadline) {
                indexed = 0;
                for (String t : tenants) {
                    if (!t.equals(faulty)) {
                        indexed += TestIndexes.count(luceneDir, t);
                    }
                }
                if (indexed >= expected) {
                    faultyIndexed = TestIndexes.count(luceneDir, faulty);
                    if (faultyIndexed >= PER_TENANT) {
                        break;
                    }
                    dead = f.readAll(f.connectDlq);
                    if (faultyIndexed + dead.size() >= PER_TENANT) {
                        break;
                    }
                }
                Thread.sleep(20);
            }
            assertThat(indexed)
                    .as("every healthy tenant indexed within " + WAIT)
                    .isEqualTo(expected);
            Set<String> reasons = new TreeSet<>();
            long faultyDead = 0;
            for (ConsumerRecord<byte[], byte[]> r : dead) {
                String key = new String(r.key(), StandardCharsets.UTF_8);
                Header h = r.headers().lastHeader("__connect.errors.exception.message");
                String message = h == null ? "?" : new String(h.value(), StandardCharsets.UTF_8);
                String why = message.contains(":") ? message.substring(0, message.indexOf(':')) : message;
                if (key.startsWith(faulty + "/")) {
                    faultyDead++;
                    reasons.add(why);
                } else {
                    reasons.add("other tenant: " + why);
                }
            }
            assertThat(connect.status(name).tasks())
                    .allSatisfy(t -> assertThat(t.state()).isEqualTo("RUNNING"));
            connect.deleteConnector(name);
            deleted = true;
            return new Figures(expected, secondsPerRecord, faultyIndexed, faultyDead, reasons);
        }

        @Override
        public void close() {
            if (!deleted) {
                connect.deleteConnector(name); // a run that failed before finish()
            }
            provider.close();
            f.close();
        }
    }

    /**
     * Records the connector's task has put, from Connect's own {@code sink-record-send-total} (counted when
     * {@code put} returns); 0 before the task has started.
     */
    private static long recordsPut(String connector) throws Exception {
        javax.management.ObjectName task = new javax.management.ObjectName(
                "kafka.connect:type=sink-task-metrics,connector=" + connector + ",task=0");
        javax.management.MBeanServer server = java.lang.management.ManagementFactory.getPlatformMBeanServer();
        if (!server.isRegistered(task)) {
            return 0;
        }
        return ((Number) server.getAttribute(task, "sink-record-send-total")).longValue();
    }

    private Map<String, String> kmsSettings(String kind, Path kmsDir) {
        Map<String, String> s = new TreeMap<>();
        if (kind.equals("vault")) {
            s.putAll(ns.settings());
            s.put("kms.vault.address", vault.address());
            s.remove("kms.vault.token-env");
        } else {
            s.put("kms.provider", "local");
            s.put("kms.local.dir", kmsDir.toString());
        }
        s.put("kms.call-deadline-ms", "250");
        return s;
    }
}
