package io.embedseal.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.DekPolicy;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.testkit.Directories;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Whether the per-tenant state of sealing and unsealing stays bounded as tenants grow: for each case (tenants, DEK
 * cache size) a fresh keyring on the local KMS seals one record for every tenant and unseals it again (the sink's
 * side), round after round, and after each round the heap in use is measured after a full GC. With the cache at
 * least as large as the tenants, the heap and the KMS calls stop growing after the first round; with more tenants
 * than the cache holds, the heap stays at the cache's size and the KMS calls show the price (round-robin traffic
 * is the worst case for an LRU: every record misses).
 *
 * <pre>java -cp 'bench/target/embedseal-bench.jar:bench/target/lib/*' io.embedseal.bench.TenantHeapHarness \
 *      [--cases 10000:10000,10000:1000,20000:10000] [--rounds 3] [--dims 384] [--json]</pre>
 */
public final class TenantHeapHarness {

    private TenantHeapHarness() {}

    /** One measurement: after {@code round} rounds over {@code tenants} tenants with a cache of {@code cacheMaxSize}. */
    public record Point(
            int tenants, int cacheMaxSize, int round, double usedHeapMegabytes, long kmsWraps, long kmsUnwraps) {}

    public static void main(String[] args) throws Exception {
        String cases = "10000:10000,10000:1000,20000:10000";
        int rounds = 3;
        int dims = 384;
        boolean json = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--cases" -> cases = args[++i];
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--dims" -> dims = Integer.parseInt(args[++i]);
                case "--json" -> json = true;
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; options: --cases tenants:cacheSize[,...] --rounds N --dims N --json");
            }
        }
        byte[] plaintext = new byte[dims * 4 + 64];
        new Random(dims).nextBytes(plaintext);
        Path dir = Files.createTempDirectory("embedseal-tenant-heap-");
        List<Point> points = new ArrayList<>();
        try {
            LocalKms kms = new LocalKms(dir.resolve("kms"));
            for (String c : cases.split(",", -1)) {
                String[] parts = c.split(":", -1);
                int tenants = Integer.parseInt(parts[0].trim());
                int cacheSize = Integer.parseInt(parts[1].trim());
                points.addAll(runCase(kms, tenants, cacheSize, rounds, plaintext, json));
            }
        } finally {
            Directories.deleteRecursively(dir);
        }
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("java", System.getProperty("java.version"));
            o.put("maxHeapMegabytes", Runtime.getRuntime().maxMemory() / 1e6);
            o.put("dims", dims);
            o.put("points", points);
            System.out.println(new ObjectMapper().writeValueAsString(o));
        }
    }

    private static List<Point> runCase(
            LocalKms kms, int tenants, int cacheSize, int rounds, byte[] plaintext, boolean quiet) {
        List<Point> points = new ArrayList<>();
        Keyring keyring = Keyring.builder(kms)
                .createMissingKeys(kms::createKek)
                .policy(DekPolicy.defaults().withCache(cacheSize, DekPolicy.DEFAULT_CACHE_IDLE_EXPIRY))
                .build();
        Sealer sealer = new Sealer(keyring);
        if (!quiet) {
            System.out.printf(
                    Locale.ROOT,
                    "%n%,d tenants, dek.cache.max-size %,d (Java %s, max heap %.0f MB)%n",
                    tenants,
                    cacheSize,
                    System.getProperty("java.version"),
                    Runtime.getRuntime().maxMemory() / 1e6);
            System.out.printf(
                    Locale.ROOT, "  %5s %14s %12s %12s%n", "round", "used heap MB", "KMS wraps", "KMS unwraps");
        }
        Point before = new Point(tenants, cacheSize, 0, usedHeapAfterGc() / 1e6, 0, 0);
        points.add(before);
        print(before, quiet);
        String[] ids = new String[tenants];
        for (int t = 0; t < tenants; t++) {
            ids[t] = String.format(Locale.ROOT, "tenant-%05d", t);
        }
        for (int round = 1; round <= rounds; round++) {
            for (int t = 0; t < tenants; t++) {
                byte[] envelope = sealer.seal(
                        ids[t],
                        "e-" + round,
                        io.embedseal.serdes.envelope.RecordVersion.now(),
                        PayloadType.EMBEDDING_EVENT_AVRO,
                        plaintext);
                // The sink's side, in a fresh keyring's place: the envelope's DEK from the open cache (or the KMS).
                if (sealer.unseal(envelope, ids[t], "e-" + round).plaintext().length != plaintext.length) {
                    throw new IllegalStateException("unsealed a different length for " + ids[t]);
                }
            }
            Keyring.CacheStats s = keyring.cacheStats();
            Point p = new Point(tenants, cacheSize, round, usedHeapAfterGc() / 1e6, s.sealMisses(), s.openMisses());
            points.add(p);
            print(p, quiet);
        }
        return points;
    }

    private static void print(Point p, boolean quiet) {
        if (!quiet) {
            System.out.printf(
                    Locale.ROOT,
                    "  %5d %14.1f %,12d %,12d%n",
                    p.round(),
                    p.usedHeapMegabytes(),
                    p.kmsWraps(),
                    p.kmsUnwraps());
        }
    }

    private static long usedHeapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
