package io.embedseal.bench;

import io.embedseal.keyring.DekPolicy;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.dek.DekRewrap;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.postgres.PostgresRewrap;
import io.embedseal.testkit.PostgresServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What {@code embedseal keys rewrap} costs on a large tenant: N rows of one tenant in a PostgreSQL table laid out as
 * the sink lays it out (real envelopes, sealed under a local KMS with a new DEK every {@code --records-per-dek}
 * records), then one rotation, then the re-wrap of every row onto the new version, timed; then the old version is
 * restricted and a sample of rows is opened to check them. Counts the KMS calls. The real PostgreSQL server the tests
 * use ({@code EMBEDSEAL_PG_URL}).
 *
 * <pre>java -cp bench/target/embedseal-bench.jar io.embedseal.bench.RewrapHarness
 *      [--rows 1000000] [--dims 384] [--records-per-dek 10000] [--batch-size 1000]</pre>
 */
public final class RewrapHarness {

    private RewrapHarness() {}

    public static void main(String[] args) throws Exception {
        int rows = 1_000_000;
        int dims = 384;
        long perDek = 10_000;
        int batch = 1000;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rows" -> rows = Integer.parseInt(args[++i]);
                case "--dims" -> dims = Integer.parseInt(args[++i]);
                case "--records-per-dek" -> perDek = Long.parseLong(args[++i]);
                case "--batch-size" -> batch = Integer.parseInt(args[++i]);
                default ->
                    throw new IllegalArgumentException("unknown option " + args[i]
                            + "; options: --rows N --dims N --records-per-dek N --batch-size N");
            }
        }
        PostgresServer.unavailableBecause().ifPresent(why -> {
            throw new IllegalStateException(why);
        });
        Path kmsDir = Files.createTempDirectory("embedseal-rewrap-bench-");
        LocalKms local = new LocalKms(kmsDir);
        local.createKek("tenant-bench");
        String table = PostgresServer.freshTable("rewrapbench");
        try (Connection c = PostgresServer.connect()) {
            try (Statement s = c.createStatement()) {
                // The sink's table (PostgresVectorStore), without the rows' other tenants.
                s.execute("CREATE TABLE " + table + " (tenant text NOT NULL, embedding_id text NOT NULL, "
                        + "kek_ref text NOT NULL, dek_id text NOT NULL, envelope bytea NOT NULL, "
                        + "source_topic text NOT NULL, source_partition integer NOT NULL, source_offset bigint NOT NULL, "
                        + "stored_at timestamptz NOT NULL DEFAULT now(), record_version bytea NOT NULL, "
                        + "deleted boolean NOT NULL DEFAULT false, PRIMARY KEY (tenant, embedding_id))");
            }
            long t0 = System.nanoTime();
            load(c, table, local, rows, dims, perDek);
            double loadSeconds = (System.nanoTime() - t0) / 1e9;
            long bytes;
            try (Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("SELECT pg_total_relation_size('" + table + "')")) {
                rs.next();
                bytes = rs.getLong(1);
            }
            System.out.printf(
                    Locale.ROOT,
                    "loaded %,d rows (%d dims, a DEK per %,d records) in %.1f s; table %,d MB%n",
                    rows,
                    dims,
                    perDek,
                    loadSeconds,
                    bytes >> 20);

            KekRef newest = local.rotate("tenant-bench");
            KekRef own = newest.withVersion(1);
            CountingKms counted = new CountingKms(local);
            long t1 = System.nanoTime();
            PostgresRewrap.Progress p = new PostgresRewrap(c, table, batch)
                    .run(
                            "bench",
                            ref -> ref.sameKeyAs(newest) && ref.version() >= newest.version(),
                            newest,
                            (h, already) -> {
                                WrappedDek w = DekRewrap.rewrap(
                                        "bench",
                                        h.dekId(),
                                        h.kek(),
                                        h.wrappedDek(),
                                        own,
                                        counted,
                                        counted,
                                        "tenant-bench",
                                        already);
                                return w;
                            },
                            (progress, event) -> {},
                            0);
            double seconds = (System.nanoTime() - t1) / 1e9;
            System.out.printf(
                    Locale.ROOT,
                    "rewrap: %,d rows rewritten, %,d DEKs re-wrapped, %,d KMS calls (%,d unwrap + %,d wrap), %.1f s, "
                            + "%,.0f rows/s; %,d rows failed, %,d changed meanwhile%n",
                    p.rowsRewritten(),
                    p.deksRewrapped(),
                    counted.unwraps.get() + counted.wraps.get(),
                    counted.unwraps.get(),
                    counted.wraps.get(),
                    seconds,
                    p.rowsRewritten() / seconds,
                    p.rowsFailed(),
                    p.rowsChangedMeanwhile());

            local.restrictVersions("tenant-bench", newest.version());
            Sealer reader = new Sealer(Keyring.of(new LocalKms(kmsDir)));
            int opened = 0;
            try (PreparedStatement ps = c.prepareStatement("SELECT embedding_id, envelope FROM " + table
                    + " WHERE tenant = 'bench' ORDER BY random() LIMIT 1000")) {
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        reader.unseal(rs.getBytes(2), "bench", rs.getString(1));
                        opened++;
                    }
                }
            }
            System.out.printf(Locale.ROOT, "after restricting version 1: %d of %d sampled rows open%n", opened, opened);
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE " + table);
            }
        }
    }

    private static void load(Connection c, String table, LocalKms kms, int rows, int dims, long perDek)
            throws Exception {
        Keyring keyring = Keyring.builder(kms)
                .policy(DekPolicy.defaults().withMaxRecordsPerDek(perDek))
                .build();
        Sealer sealer = new Sealer(keyring);
        Random random = new Random(7);
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (tenant, embedding_id, kek_ref, "
                + "dek_id, envelope, source_topic, source_partition, source_offset, record_version) "
                + "VALUES ('bench', ?, ?, ?, ?, 'embeddings.sealed', 0, ?, ?)")) {
            List<Float> vector = new ArrayList<>(dims);
            for (int d = 0; d < dims; d++) {
                vector.add((float) random.nextGaussian());
            }
            for (int i = 0; i < rows; i++) {
                String id = "doc-" + i;
                EmbeddingEvent e = EmbeddingEvent.newBuilder()
                        .setTenantId("bench")
                        .setEmbeddingId(id)
                        .setModel("bench-" + dims)
                        .setVector(vector)
                        .setMetadata(null)
                        .setEventTime(Instant.ofEpochMilli(1_764_000_000_000L + i))
                        .build();
                RecordVersion v = new RecordVersion(1_764_000_000_000L + i, i);
                byte[] envelope = sealer.seal(
                        "bench", id, v, PayloadType.EMBEDDING_EVENT_AVRO, EmbeddingEventCodec.toCanonicalAvro(e));
                var h = io.embedseal.serdes.envelope.EnvelopeHeader.parse(envelope);
                ps.setString(1, id);
                ps.setString(2, h.kek().toString());
                ps.setString(3, h.dekId().toString());
                ps.setBytes(4, envelope);
                ps.setLong(5, i);
                ps.setBytes(6, v.toBytes());
                ps.addBatch();
                if (i % 1000 == 999) {
                    ps.executeBatch();
                    c.commit();
                }
            }
            ps.executeBatch();
            c.commit();
        }
        c.setAutoCommit(true);
        keyring.close();
    }

    /** The local KMS, counting data-key calls. */
    private static final class CountingKms implements Kms {
        private final Kms inner;
        final AtomicLong wraps = new AtomicLong();
        final AtomicLong unwraps = new AtomicLong();

        CountingKms(Kms inner) {
            this.inner = inner;
        }

        @Override
        public String provider() {
            return inner.provider();
        }

        @Override
        public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
            wraps.incrementAndGet();
            return inner.wrapDek(keyName, dek, associatedData);
        }

        @Override
        public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
            unwraps.incrementAndGet();
            return inner.unwrapDek(kek, wrappedDek, associatedData);
        }

        @Override
        public KeyDescription describe(String keyName) {
            return inner.describe(keyName);
        }
    }
}
