package io.embedseal.demo.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.embedseal.testkit.Directories;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Measures the sealing pipeline against a plaintext pass-through topology, side by side.",
            "On one in-process broker and the same generated records, all exactly-once v2 with the same Streams "
                    + "settings, in alternating runs: records/s and MB/s through a backlog, p50/p99 end-to-end latency "
                    + "at a fixed rate, KMS calls, peak heap, and the ratio sealed / pass-through, with an AES-GCM-only "
                    + "topology between them as the floor. Takes minutes; see docs/performance.md."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:measured", "1:a run failed", "2:invalid usage"})
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--records", defaultValue = "100000", description = "Records per run (default: ${DEFAULT-VALUE}).")
    int records;

    @Option(
            names = "--dims",
            defaultValue = "384,1536",
            split = ",",
            description = "Vector dimensions to run (default: ${DEFAULT-VALUE}).")
    List<Integer> dims = new ArrayList<>();

    @Option(
            names = "--tenants",
            defaultValue = "10",
            split = ",",
            description = "Tenants the records belong to; several counts run one after the other, e.g. "
                    + "10,1000,10000,100000 (default: ${DEFAULT-VALUE}).")
    List<Integer> tenants = new ArrayList<>();

    @Option(
            names = "--distribution",
            defaultValue = "uniform",
            description = "Which tenant each record belongs to: uniform (every tenant in turn), zipf (rank k with "
                    + "probability ~ 1/k^1.1) or zipf:s (default: ${DEFAULT-VALUE}).")
    String distribution;

    @Option(
            names = "--phase",
            defaultValue = "cold",
            description = "cold: a fresh instance through the backlog, each tenant's first record making its DEK; "
                    + "steady: the same instance through a second backlog of the same tenants, its DEKs already made "
                    + "(default: ${DEFAULT-VALUE}).")
    String phase;

    @Option(
            names = "--stream-threads",
            defaultValue = "2",
            description = "Stream threads of each topology (default: ${DEFAULT-VALUE}).")
    int streamThreads;

    @Option(
            names = "--commit-interval-ms",
            defaultValue = "100",
            description = "Kafka Streams' commit.interval.ms for every topology; with exactly-once it bounds "
                    + "the latency (default: ${DEFAULT-VALUE}).")
    int commitIntervalMs;

    @Option(
            names = "--chart-dir",
            description = "Also draw the results as PNG charts into this directory (records/s by dimensions when "
                    + "several --dims ran, by tenants when several --tenants ran).")
    Path chartDir;

    @Option(names = "--partitions", defaultValue = "4", description = "(default: ${DEFAULT-VALUE})")
    int partitions;

    @Option(
            names = "--runs",
            defaultValue = "3",
            description = "Runs of each topology, alternating (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(
            names = "--warmup-runs",
            defaultValue = "1",
            description = "Uncounted runs of each topology first (default: ${DEFAULT-VALUE}).")
    int warmupRuns;

    @Option(
            names = "--latency-records",
            defaultValue = "10000",
            description = "Records of the latency phase (default: ${DEFAULT-VALUE}).")
    int latencyRecords;

    @Option(
            names = "--latency-rate",
            defaultValue = "2000",
            description = "Records/s in the latency phase (default: ${DEFAULT-VALUE}).")
    int latencyRate;

    @Option(
            names = "--dek-max-records",
            defaultValue = "10000000",
            description = "DEK rollover after this many records "
                    + "(default: ${DEFAULT-VALUE}; lower it to see rollovers' KMS calls).")
    long dekMaxRecords;

    @Option(
            names = "--topologies",
            defaultValue = "pass-through,aes-gcm,sealed",
            split = ",",
            description =
                    "Which topologies to run (default: ${DEFAULT-VALUE}): pass-through (the same bytes on), aes-gcm (the "
                            + "floor: each value AES-256-GCM encrypted into a record of the sealed size, nothing else), sealed (the "
                            + "pipeline). One alone is for profiling; the goal's ratio needs pass-through and sealed.")
    List<String> topologies;

    @Option(
            names = "--data-dir",
            description = "Where the broker and state live (default: a temporary directory, deleted after).")
    Path dataDir;

    @Option(
            names = "--kek-kind",
            defaultValue = "symmetric",
            description =
                    "The tenants' KEKs: symmetric (one KMS call per DEK) or public-key (DEKs wrapped with the public "
                            + "key pinned in REGISTERED: no KMS call). Default: ${DEFAULT-VALUE}.")
    String kekKind;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    /** "pass-through 1.0, aes-gcm 2.0, sealed 3.0" for the topologies that ran (median 0 = did not run). */
    private static String perTopology(double passThrough, double aesGcm, double sealed, String format) {
        List<String> parts = new ArrayList<>();
        double[] values = {passThrough, aesGcm, sealed};
        for (int i = 0; i < values.length; i++) {
            if (values[i] > 0) {
                parts.add(
                        PipelineBench.Options.TOPOLOGIES.get(i) + " " + String.format(Locale.ROOT, format, values[i]));
            }
        }
        return String.join(", ", parts);
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!PipelineBench.Options.TOPOLOGIES.containsAll(topologies)) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "--topologies takes " + String.join(", ", PipelineBench.Options.TOPOLOGIES) + "; got "
                            + topologies);
        }
        TenantDistribution dist;
        PipelineBench.Phase ph;
        try {
            dist = TenantDistribution.parse(distribution);
            ph = PipelineBench.Phase.parse(phase);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (streamThreads < 1
                || commitIntervalMs < 1
                || tenants.isEmpty()
                || tenants.stream().anyMatch(t -> t < 1)) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(), "--stream-threads, --commit-interval-ms and every --tenants need at least 1");
        }
        if (records < 100 || partitions < 1 || runs < 1 || latencyRecords < 100 || latencyRate < 1 || dims.isEmpty()) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "--records and --latency-records need at least 100; "
                            + "--partitions, --runs, --latency-rate at least 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean temporary = dataDir == null;
        Path dir = temporary ? Files.createTempDirectory("embedseal-bench-") : dataDir;
        List<PipelineBench.DimsResult> results;
        try {
            results = PipelineBench.run(
                    new PipelineBench.Options(
                            records,
                            dims,
                            partitions,
                            runs,
                            warmupRuns,
                            latencyRecords,
                            latencyRate,
                            dekMaxRecords,
                            dir,
                            topologies,
                            io.embedseal.keyring.kms.KekKind.parse(kekKind),
                            tenants,
                            streamThreads,
                            commitIntervalMs,
                            dist,
                            ph),
                    line -> {
                        err.println("bench: " + line);
                        err.flush();
                    });
        } finally {
            if (temporary) {
                Directories.deleteRecursively(dir);
            }
        }
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("records", records);
            o.put("tenants", tenants.get(0));
            o.put("tenantCounts", tenants);
            o.put("distribution", dist.toString());
            o.put("phase", ph.name().toLowerCase(Locale.ROOT));
            o.put("streamThreads", streamThreads);
            o.put("commitIntervalMs", commitIntervalMs);
            o.put("partitions", partitions);
            o.put("java", System.getProperty("java.version"));
            o.put("cpus", Runtime.getRuntime().availableProcessors());
            o.put("results", results);
            out.println(new ObjectMapper()
                    .disable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(o));
        } else {
            out.printf(
                    Locale.ROOT,
                    "embedseal bench: %,d records per run, %s tenants (%s), %s, %d partitions, %d stream threads, "
                            + "exactly-once v2 with %d ms commits, Java %s, %d CPUs%n",
                    records,
                    tenants.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(", ")),
                    dist,
                    ph == PipelineBench.Phase.COLD ? "from a cold start" : "in steady state (DEKs made)",
                    partitions,
                    streamThreads,
                    commitIntervalMs,
                    System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors());
            for (PipelineBench.DimsResult r : results) {
                out.printf(
                        Locale.ROOT,
                        "%n%d dims (%,d bytes per raw record), %,d tenants (%,d with records)%n",
                        r.dims(),
                        r.recordBytes(),
                        r.tenants(),
                        r.tenantsWithRecords());
                out.printf(
                        Locale.ROOT,
                        "  %-13s %4s %12s %8s %11s %11s %10s %5s %6s %8s %8s %6s %9s%n",
                        "topology",
                        "run",
                        "records/s",
                        "MB/s",
                        "CPU us/rec",
                        "app us/rec",
                        "app B/rec",
                        "GCs",
                        "GC ms",
                        "p50 ms",
                        "p99 ms",
                        "KMS",
                        "heap MB");
                for (PipelineBench.Run run : r.runs()) {
                    out.printf(
                            Locale.ROOT,
                            "  %-13s %4d %,12.0f %8.1f %11.1f %11.1f %,10d %5d %6d %8.0f %8.0f %6d %9.0f%n",
                            run.topology(),
                            run.run(),
                            run.recordsPerSecond(),
                            run.megabytesPerSecond(),
                            run.cpuMicrosPerRecord(),
                            run.topologyCpuMicrosPerRecord(),
                            run.topologyAllocatedBytesPerRecord(),
                            run.gcPauses(),
                            run.gcPauseMillis(),
                            run.p50Millis(),
                            run.p99Millis(),
                            run.kmsCalls(),
                            run.peakHeapBytes() / 1e6);
                }
                out.printf(
                        Locale.ROOT,
                        "  sealed values are %d bytes longer than raw ones (envelope header, nonce, tag; minus the 5-byte wire prefix)%n",
                        r.sealedExtraBytes());
                out.println("  medians, records/s: "
                        + perTopology(r.passThroughMedian(), r.aesGcmMedian(), r.sealedMedian(), "%,.0f"));
                List<String> ratios = new ArrayList<>();
                if (!Double.isNaN(r.ratio())) {
                    ratios.add(String.format(Locale.ROOT, "sealed / pass-through = %.3f (the goal)", r.ratio()));
                }
                if (!Double.isNaN(r.floorRatio())) {
                    ratios.add(String.format(
                            Locale.ROOT,
                            "aes-gcm / pass-through = %.3f (the floor: the same bytes out, AES-GCM only)",
                            r.floorRatio()));
                }
                if (!Double.isNaN(r.sealedToFloor())) {
                    ratios.add(String.format(
                            Locale.ROOT, "sealed / aes-gcm = %.3f (embedseal's own work)", r.sealedToFloor()));
                }
                if (!ratios.isEmpty()) {
                    out.println("  " + String.join("; ", ratios));
                }
                List<String> spreads = new ArrayList<>();
                spread(spreads, "sealed / pass-through", r.ratioSpread(), "%.3f");
                spread(spreads, "aes-gcm / pass-through", r.floorRatioSpread(), "%.3f");
                spread(spreads, "sealed / aes-gcm", r.sealedToFloorSpread(), "%.3f");
                spread(spreads, "sealed - pass-through app CPU us", r.sealedCpuOverPassThrough(), "%+.2f");
                spread(spreads, "sealed - aes-gcm app CPU us", r.sealedCpuOverFloor(), "%+.2f");
                spread(spreads, "p99 sealed / pass-through", r.p99SealedOverPassThrough(), "%.2f");
                if (!spreads.isEmpty()) {
                    out.println("  over the pairs of adjacent runs, median [min, max]: " + String.join("; ", spreads));
                }
                out.println("  CPU us per record, whole JVM: "
                        + perTopology(r.cpuPassThrough(), r.cpuAesGcm(), r.cpuSealed(), "%.1f")
                        + "; the application's own threads: "
                        + perTopology(
                                r.topologyCpuPassThrough(), r.topologyCpuAesGcm(), r.topologyCpuSealed(), "%.1f"));
                out.print(
                        "  p99 latency, ms: " + perTopology(r.p99PassThrough(), r.p99AesGcm(), r.p99Sealed(), "%.0f"));
                if (r.sealedMedian() > 0) {
                    out.printf(
                            Locale.ROOT,
                            "; KMS calls per sealing instance %d (bound: a DEK per tenant with records, plus "
                                    + "rollovers, with every DEK cached = %d); DEK cache hit rate %.4f; heap after a "
                                    + "full GC %.0f MB",
                            r.kmsCallsPerSealedRun(),
                            r.kmsBound(),
                            r.dekCacheHitRate(),
                            r.heapAfterGcSealed() / 1e6);
                }
                out.println();
            }
        }
        if (chartDir != null) {
            for (Path chart : BenchCharts.write(
                    results,
                    chartDir,
                    "Java " + System.getProperty("java.version") + ", " + dist + ", "
                            + ph.name().toLowerCase(Locale.ROOT))) {
                err.println("bench: chart " + chart);
            }
        }
        out.flush();
        return 0;
    }

    private static void spread(List<String> out, String name, PipelineBench.Spread s, String format) {
        if (!s.pairs().isEmpty()) {
            out.add(String.format(
                    Locale.ROOT,
                    "%s " + format + " [" + format + ", " + format + "]",
                    name,
                    s.median(),
                    s.min(),
                    s.max()));
        }
    }
}
