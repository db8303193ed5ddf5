package io.embedseal.app.ops;

import io.embedseal.keyring.dek.DekRewrap;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.sinks.postgres.PostgresRewrap;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * The PostgreSQL store whose rows {@code keys rewrap} and {@code tenants migrate} rewrite (a picocli mixin), and the
 * rewrite itself: each DEK the tenant's rows use is re-wrapped through {@link DekRewrap} (unwrapped through the
 * tenant's current key, wrapped under the target), the rows' key slots rewritten by {@link PostgresRewrap}, with a
 * progress line on stderr and every DEK in the audit trail.
 */
final class StoreRewrite {

    @Option(
            names = "--postgres-url",
            required = true,
            paramLabel = "JDBC_URL",
            description = "The sink's postgres.url.")
    String url;

    @Option(names = "--postgres-user", description = "PostgreSQL user.")
    String user;

    @Option(
            names = "--postgres-password-env",
            defaultValue = "EMBEDSEAL_PG_PASSWORD",
            description = "Environment variable holding the PostgreSQL password (default: ${DEFAULT-VALUE}).")
    String passwordEnv;

    @Option(
            names = "--postgres-password-file",
            paramLabel = "FILE",
            description = "A file holding the PostgreSQL password (instead of --postgres-password-env).")
    @Nullable
    Path passwordFile;

    @Option(
            names = "--postgres-table",
            defaultValue = "embeddings",
            description = "The sink's postgres.table (default: ${DEFAULT-VALUE}).")
    String table;

    @Option(
            names = "--batch-size",
            defaultValue = "1000",
            description = "Rows per transaction (default: ${DEFAULT-VALUE}).")
    int batchSize;

    /** Test only: stop as a crash would, after this many rows. */
    @Option(names = "--stop-after-rows", hidden = true, defaultValue = "0")
    long stopAfterRows;

    /**
     * Moves every row of the tenant not yet under {@code target}.
     *
     * @param own        the tenant's current key (rows naming another key are not re-wrapped)
     * @param targetKms  the KMS to wrap under: the tenant's own (rewrap) or another (migrate)
     * @param done       whether a row's KEK reference is already where it should be
     */
    PostgresRewrap.Progress run(
            OperatorContext ctx,
            String verb,
            String tenant,
            KekRef own,
            Kms targetKms,
            String targetKey,
            KekRef target,
            Predicate<KekRef> done,
            String reason,
            PrintWriter err)
            throws Exception {
        try (java.sql.Connection c = PostgresVectorStore.connect(url, user, password(), "embedseal-" + verb)) {
            ProgressLine line = new ProgressLine(err, verb + " " + tenant);
            PostgresRewrap.Progress result = new PostgresRewrap(c, table, batchSize)
                    .run(
                            tenant,
                            done,
                            target,
                            (h, already) -> DekRewrap.rewrap(
                                    tenant,
                                    h.dekId(),
                                    h.kek(),
                                    h.wrappedDek(),
                                    own,
                                    ctx.keys,
                                    targetKms,
                                    targetKey,
                                    already),
                            (p, event) -> {
                                if (event != null) {
                                    ctx.action("DEK_REWRAPPED", tenant, target.toString(), reason, event);
                                }
                                line.show(p);
                            },
                            stopAfterRows);
            line.done();
            if (stopAfterRows == 0 && result.rowsLeft() == 0 && result.rowsFailed() == 0 && vectorKeysTable(c)) {
                // Blind mode's vector key moves with the rows, once they have all moved: left under the old key, it
                // would stop opening once the old key is restricted, retired or (after a migration) not the tenant's
                // any more; moved before the rows (a migration that cannot finish yet), the sink, still on the old key,
                // would refuse it.
                var moved = io.embedseal.sinks.blind.VectorKeys.rewrapStored(
                        new io.embedseal.sinks.postgres.PostgresVectorKeys(() -> c, table),
                        tenant,
                        own,
                        ctx.keys,
                        targetKms,
                        targetKey,
                        done);
                if (moved.isPresent()) {
                    ctx.action("VECTOR_KEY_REWRAPPED", tenant, moved.get().toString(), reason, "OK");
                    err.println(verb + " " + tenant + ": blind mode's vector key is under " + moved.get());
                }
            }
            return result;
        }
    }

    private boolean vectorKeysTable(java.sql.Connection c) throws java.sql.SQLException {
        try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            ps.setString(1, table + "_vector_keys");
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private @Nullable String password() throws java.io.IOException {
        if (passwordFile != null) {
            return java.nio.file.Files.readString(passwordFile).strip();
        }
        return passwordEnv == null ? null : System.getenv(passwordEnv);
    }

    static String summary(PostgresRewrap.Progress p) {
        return String.format(
                Locale.ROOT,
                "%,d of %,d rows rewritten, %,d DEKs re-wrapped (of %,d), %,d version-1 rows left, %,d rows failed, "
                        + "%,d rows changed by the sink meanwhile (left as written), %,d rows not yet moved",
                p.rowsRewritten(),
                p.rowsTotal(),
                p.deksRewrapped(),
                p.deksTotal(),
                p.rowsVersion1(),
                p.rowsFailed(),
                p.rowsChangedMeanwhile(),
                Math.max(0, p.rowsLeft()));
    }

    /** One progress line on stderr, redrawn at most a few times a second. */
    static final class ProgressLine {
        private final java.io.PrintWriter err;
        private final String what;
        private final long start = System.nanoTime();
        private long shownAt;

        ProgressLine(java.io.PrintWriter err, String what) {
            this.err = err;
            this.what = what;
        }

        private PostgresRewrap.@org.jspecify.annotations.Nullable Progress last;

        void show(PostgresRewrap.Progress p) {
            last = p;
            long now = System.nanoTime();
            if (now - shownAt < 250_000_000L && p.rowsRewritten() < p.rowsTotal()) {
                return;
            }
            draw(p, now);
        }

        private void draw(PostgresRewrap.Progress p, long now) {
            shownAt = now;
            double seconds = Math.max(1e-3, (now - start) / 1e9);
            int width = 30;
            int filled = p.rowsTotal() == 0 ? width : (int) (width * p.rowsRewritten() / p.rowsTotal());
            err.printf(
                    Locale.ROOT,
                    "\r%s [%s%s] %,d/%,d rows, %,d/%,d DEKs, %,.0f rows/s",
                    what,
                    "#".repeat(Math.min(width, filled)),
                    " ".repeat(Math.max(0, width - filled)),
                    p.rowsRewritten(),
                    p.rowsTotal(),
                    p.deksRewrapped(),
                    p.deksTotal(),
                    p.rowsRewritten() / seconds);
            err.flush();
        }

        void done() {
            if (last != null) {
                draw(last, System.nanoTime()); // the final count, however recently the line was drawn
            }
            err.println();
            err.flush();
        }
    }
}
