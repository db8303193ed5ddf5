package io.embedseal.demo;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import org.jspecify.annotations.Nullable;

/**
 * What a demo run produced and found. {@link #failures()} lists every check that did not hold; the run
 * succeeded when it is empty.
 */
public record DemoReport(
        String kms,
        @Nullable String kmsServer,
        Shape shape,
        Counts counts,
        DemoChecks.Sealed sealedCheck,
        DemoChecks.DeadLettered deadCheck,
        DemoChecks.Audit audit,
        KeyEventsSeen keyEvents,
        Leaks leaks,
        KmsCalls kmsCalls,
        SortedMap<String, TenantSummary> tenants,
        DemoSinkStage.Summary sink,
        Timings timings,
        List<String> failures) {

    /** What the run was asked to do. */
    /**
     * @param vectors where the vectors came from: the model that embedded real sentences (and how long it took), or
     *                "synthetic"
     */
    public record Shape(int tenants, int recordsPerTenant, int dims, int partitions, String vectors) {}

    /**
     * Records produced, and where they went.
     *
     * @param fromPython valid records the Python client published
     * @param python     the Python client's Kafka client, or why it did not publish
     */
    public record Counts(int produced, int valid, int invalid, int sealed, int dlq, int fromPython, String python) {}

    /**
     * The key-event topic as a reader verified it after the run.
     *
     * @param signer  the key that signed them (the operator's signing key)
     * @param applied signed events that applied
     * @param refused records a reader refused (none expected)
     */
    public record KeyEventsSeen(String signer, long applied, long refused) {}

    /** Plaintext-vector hits in the topics' segment files: none expected, and the raw topic's as the control. */
    public record Leaks(long plaintextHits, long controlHits) {}

    /** Seconds the run took, in all and by stage. */
    public record Timings(double total, double brokerStart, double pipeline, double checks) {}

    /**
     * KMS calls made by the pipeline and the independent reader.
     *
     * @param wraps   successful DEK wraps: one per DEK
     * @param unwraps successful DEK unwraps by the reader: one per DEK it met
     * @param created keys created when the tenants were onboarded
     * @param failed  calls that failed, other than a wrap finding no key just before it is created
     */
    public record KmsCalls(long wraps, long unwraps, long created, long failed) {}

    /** One tenant's share of the run. */
    public record TenantSummary(int sealed, String kek) {}

    public boolean ok() {
        return failures.isEmpty();
    }

    /** One JSON object; field names are part of the command's interface (documented in the README). */
    public String toJson() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("ok", ok());
        o.put("produced", counts.produced());
        o.put("produced_by_python", counts.fromPython());
        o.put("python_client", counts.python());
        o.put("valid", counts.valid());
        o.put("invalid", counts.invalid());
        o.put("sealed", counts.sealed());
        o.put("dlq", counts.dlq());
        o.put("dlq_by_reason", deadCheck.byReason());
        o.put("unseal_mismatches", sealedCheck.mismatches());
        o.put("duplicates", sealedCheck.duplicates());
        o.put("missing", sealedCheck.missing());
        o.put("dlq_reason_mismatches", deadCheck.reasonMismatches());
        o.put("plaintext_hits", leaks.plaintextHits());
        o.put("control_plaintext_hits", leaks.controlHits());
        Map<String, Object> perTenant = new LinkedHashMap<>();
        tenants.forEach((name, t) -> {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("sealed", t.sealed());
            one.put("kek", t.kek());
            perTenant.put(name, one);
        });
        o.put("tenants", perTenant);
        o.put("sink", sinkJson());
        Map<String, Object> calls = new LinkedHashMap<>();
        calls.put("wrap", kmsCalls.wraps());
        calls.put("unwrap", kmsCalls.unwraps());
        calls.put("create", kmsCalls.created());
        calls.put("failed", kmsCalls.failed());
        o.put("kms", kms);
        if (kmsServer != null) {
            o.put("kms_server", kmsServer);
        }
        o.put("kms_calls", calls);
        Map<String, Object> events = new LinkedHashMap<>();
        events.put("signer", keyEvents.signer());
        events.put("applied", keyEvents.applied());
        events.put("refused", keyEvents.refused());
        o.put("key_events", events);
        o.put("audit_entries", audit.entries());
        o.put("audit_chain_intact", audit.result().intact());
        o.put("audit_chains_signed", audit.signedChains());
        o.put("audit_chains", audit.result().chains().size());
        o.put("dims", shape.dims());
        o.put("vectors", shape.vectors());
        o.put("partitions", shape.partitions());
        o.put("seconds", round(timings.total()));
        Map<String, Object> stages = new LinkedHashMap<>();
        stages.put("broker_start", round(timings.brokerStart()));
        stages.put("pipeline", round(timings.pipeline()));
        stages.put("checks", round(timings.checks()));
        stages.put("sink", round(sink.seconds()));
        o.put("timings", stages);
        o.put("failures", failures);
        try {
            return new ObjectMapper()
                    .disable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private Map<String, Object> sinkJson() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("store", "lucene");
        s.put("indexed", sink.indexed());
        Map<String, Object> searches = new LinkedHashMap<>();
        sink.searches().forEach((t, c) -> {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("query", c.query());
            one.put("top_hit", c.topHit());
            one.put("score", Math.round(c.score() * 1e6) / 1e6);
            one.put("ok", c.ok());
            searches.put(t, one);
        });
        s.put("searches", searches);
        Map<String, Object> questions = new LinkedHashMap<>();
        sink.answers().forEach((t, a) -> {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("question", a.question());
            List<Map<String, Object>> hits = new java.util.ArrayList<>();
            for (DemoSinkStage.Hit h : a.hits()) {
                Map<String, Object> hit = new LinkedHashMap<>();
                hit.put("id", h.id());
                hit.put("score", Math.round(h.score() * 1e4) / 1e4);
                hit.put("sentence", h.sentence());
                hits.add(hit);
            }
            one.put("hits", hits);
            questions.put(t, one);
        });
        s.put("questions", questions);
        if (sink.destroyed() != null) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("tenant", sink.destroyed().tenant());
            d.put("receipt_deleted", sink.destroyed().deleted());
            d.put("index_gone", sink.destroyed().indexGone());
            d.put("search_refused", sink.destroyed().refusal() != null);
            s.put("destroyed", d);
        }
        Map<String, Object> leaks = new LinkedHashMap<>();
        leaks.put("encrypted", sink.leaks().encrypted());
        leaks.put("plaintext_hits", sink.leaks().plaintextHits());
        leaks.put("files_scanned", sink.leaks().filesScanned());
        leaks.put("control_plaintext_hits", sink.leaks().controlHits());
        s.put("index_files", leaks);
        s.put("seconds", round(sink.seconds()));
        return s;
    }

    /** A short summary for people. */
    public String toHuman() {
        StringBuilder b = new StringBuilder();
        b.append("embedseal demo: in-process Kafka broker, ")
                .append(
                        kms.equals("local")
                                ? "local KMS (development only)"
                                : kms + " KMS" + (kmsServer == null ? "" : " (" + kmsServer + ")"))
                .append(", in-memory schema registry\n");
        line(
                b,
                "produced",
                String.format(
                        Locale.ROOT,
                        "%,d records for %d tenants (%d dims: %s; %d partitions): %,d valid, %d deliberately invalid",
                        counts.produced(),
                        shape.tenants(),
                        shape.dims(),
                        shape.vectors(),
                        shape.partitions(),
                        counts.valid(),
                        counts.invalid()));
        line(
                b,
                "python",
                counts.fromPython() > 0
                        ? String.format(
                                Locale.ROOT,
                                "%,d of the valid records published by the Python client (python -m embedseal "
                                        + "produce-raw: its validation, %s)",
                                counts.fromPython(),
                                counts.python())
                        : "the Python client published nothing: " + counts.python());
        line(
                b,
                "sealed",
                String.format(
                        Locale.ROOT,
                        "%,d of %,d valid; unsealed each and compared: %d mismatches, %d duplicates, %d missing",
                        counts.sealed(),
                        counts.valid(),
                        sealedCheck.mismatches(),
                        sealedCheck.duplicates(),
                        sealedCheck.missing()));
        StringBuilder reasons = new StringBuilder();
        deadCheck
                .byReason()
                .forEach((r, n) -> reasons.append(reasons.length() == 0 ? "" : ", ")
                        .append(r)
                        .append('=')
                        .append(n));
        line(
                b,
                "dead-lettered",
                String.format(Locale.ROOT, "%d of %d invalid (%s)", counts.dlq(), counts.invalid(), reasons));
        line(
                b,
                "plaintext",
                String.format(
                        Locale.ROOT,
                        "%d vector hits in sealed, dead-letter and audit segments on disk (control: %,d hits in the raw topic)",
                        leaks.plaintextHits(),
                        leaks.controlHits()));
        line(
                b,
                "KMS calls",
                String.format(
                        Locale.ROOT,
                        "%d wraps (one per DEK), %d unwraps (independent reader), "
                                + "%d keys created (onboarding), %d failed",
                        kmsCalls.wraps(),
                        kmsCalls.unwraps(),
                        kmsCalls.created(),
                        kmsCalls.failed()));
        line(
                b,
                "key events",
                String.format(
                        Locale.ROOT,
                        "%d signed events applied, %d refused; signed by the %s",
                        keyEvents.applied(),
                        keyEvents.refused(),
                        keyEvents.signer()));
        line(
                b,
                "audit",
                String.format(
                        Locale.ROOT,
                        "%d hash-chained entries on keyring.audit, chain %s; %d of %d chains closed by a signed "
                                + "checkpoint",
                        audit.entries(),
                        audit.result().intact() ? "intact" : "BROKEN",
                        audit.signedChains(),
                        audit.result().chains().size()));
        tenants.forEach((name, t) ->
                line(b, "tenant", String.format(Locale.ROOT, "%-10s %,6d sealed under %s", name, t.sealed(), t.kek())));
        long indexed =
                sink.indexed().values().stream().mapToLong(Long::longValue).sum();
        line(
                b,
                "sink",
                String.format(
                        Locale.ROOT,
                        "%,d records indexed by the Lucene sink (Kafka Connect) in %d per-tenant HNSW indexes, "
                                + "unsealed under each tenant's key",
                        indexed,
                        sink.indexed().size()));
        line(
                b,
                "index",
                String.format(
                        Locale.ROOT,
                        "every index file encrypted under its tenant's own index key (wrapped by the tenant's KEK): "
                                + "%,d plaintext vector hits in %,d file scans (unencrypted control index: %,d)",
                        sink.leaks().plaintextHits(),
                        sink.leaks().filesScanned(),
                        sink.leaks().controlHits()));
        sink.searches()
                .forEach((t, c) -> line(
                        b,
                        "search",
                        String.format(
                                Locale.ROOT,
                                "%-10s query = vector of %s -> top hit %s (score %.4f) %s",
                                t,
                                c.query(),
                                c.topHit(),
                                c.score(),
                                c.ok() ? "ok" : "WRONG")));
        sink.answers().forEach((t, a) -> {
            line(b, "question", String.format(Locale.ROOT, "%-10s \"%s\"", t, a.question()));
            int i = 1;
            for (DemoSinkStage.Hit h : a.hits()) {
                line(
                        b,
                        "",
                        String.format(
                                Locale.ROOT, "%10s %d. %.3f  %s", "", i++, h.score(), abbreviate(h.sentence(), 110)));
            }
        });
        if (sink.destroyed() != null) {
            DemoSinkStage.Destroyed d = sink.destroyed();
            line(
                    b,
                    "destroyed",
                    String.format(
                            Locale.ROOT,
                            "%s: key destroyed in the KMS, DESTROYED published; index %s, shred receipt %s",
                            d.tenant(),
                            d.indexGone() ? "deleted" : "STILL ON DISK",
                            d.deleted().isEmpty() ? "MISSING" : "on keyring.audit " + d.deleted()));
            line(
                    b,
                    "search",
                    String.format(
                            Locale.ROOT,
                            "%-10s %s",
                            d.tenant(),
                            d.refusal() == null ? "NOT REFUSED" : "refused: " + d.refusal()));
        }
        line(
                b,
                "time",
                String.format(
                        Locale.ROOT,
                        "%.1f s (broker start %.1f s, produce to sealed %.1f s, checks %.1f s, sink stage %.1f s)",
                        timings.total(),
                        timings.brokerStart(),
                        timings.pipeline(),
                        timings.checks(),
                        sink.seconds()));
        if (ok()) {
            b.append("""
                    OK: every valid record sealed once under its tenant's key and opened intact; no plaintext vector on disk outside the raw topic
                        (and the unencrypted control index), none in the sink's encrypted index; each tenant searchable under its key; the destroyed tenant's data shredded, with a receipt.
                    """);
        } else {
            b.append("FAILED:\n");
            failures.forEach(f -> b.append("  - ").append(f).append('\n'));
        }
        return b.toString();
    }

    private static void line(StringBuilder b, String label, String text) {
        b.append(String.format(Locale.ROOT, "  %-14s %s%n", label, text));
    }

    /** The text, cut to {@code max} characters with an ellipsis; "?" for none. */
    static String abbreviate(@Nullable String text, int max) {
        if (text == null) {
            return "?";
        }
        return text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }

    private static double round(double seconds) {
        return Math.round(seconds * 100) / 100.0;
    }
}
