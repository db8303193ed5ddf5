package io.embedseal.sinks.postgres;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Moves a tenant's rows in the PostgreSQL store to another KEK without decrypting a single record: for each DEK its
 * rows use, the DEK is re-wrapped once (by the caller's {@link Rewrapper}, through the KMS), then every row of that
 * DEK gets the new key slot ({@link EnvelopeHeader#withKeySlot}): the authenticated header and the ciphertext are
 * copied byte for byte.
 *
 * <p>Resumable and idempotent: rows are rewritten in batches, each committed on its own, and a row already under the
 * target is not selected again, so a run that stops halfway loses nothing and a second run finishes the job (and
 * then finds nothing to do). Each update is a compare-and-set on the row's envelope, so a record the sink replaced
 * meanwhile is left as the sink wrote it. Rows that cannot move are counted, never changed: version-1 envelopes (their
 * key slot is authenticated; they need re-sealing from the raw topic) and rows whose wrapped DEK does not unwrap.
 */
public final class PostgresRewrap {

    /** Re-wraps one DEK: the envelope header names it (tenant, DEK id, KEK, wrapped form). */
    @FunctionalInterface
    public interface Rewrapper {
        /**
         * @param already the slot a row of the same DEK already has under the target (an earlier, interrupted run
         *                wrote it), or null: reusing it, once the KMS confirms it unwraps for this tenant and DEK id,
         *                keeps one wrapped form per DEK (a reader's DEK cache holds one) and saves a wrap
         * @return the DEK wrapped under the target KEK, bound to the same tenant and DEK id
         * @throws RuntimeException if the KMS refuses; the DEK's rows are then counted as failed and left alone
         */
        WrappedDek rewrap(EnvelopeHeader header, @Nullable WrappedDek already);
    }

    /**
     * What a run did, so far or in the end.
     *
     * @param rowsLeft at the end, the tenant's rows still not under the target, counted again after the run (version-1
     *                 rows, rows that failed, and rows the sink wrote under the old key meanwhile); -1 before the end
     */
    public record Progress(
            long rowsTotal,
            long rowsRewritten,
            long deksRewrapped,
            long deksTotal,
            long rowsVersion1,
            long rowsFailed,
            long rowsChangedMeanwhile,
            long rowsLeft) {

        Progress(
                long rowsTotal,
                long rowsRewritten,
                long deksRewrapped,
                long deksTotal,
                long rowsVersion1,
                long rowsFailed,
                long rowsChangedMeanwhile) {
            this(
                    rowsTotal,
                    rowsRewritten,
                    deksRewrapped,
                    deksTotal,
                    rowsVersion1,
                    rowsFailed,
                    rowsChangedMeanwhile,
                    -1);
        }
    }

    /** Told after each committed batch and each DEK. */
    @FunctionalInterface
    public interface Listener {
        void onProgress(Progress progress, @Nullable String event);
    }

    private final Connection connection;
    private final String table;
    private final int batchSize;

    /**
     * @param connection a connection the caller owns; autocommit is switched off while this runs
     * @param table      the sink's {@code postgres.table}
     */
    public PostgresRewrap(Connection connection, String table, int batchSize) {
        if (!PostgresSinkConfig.TABLE_NAME.matcher(table).matches()) {
            throw new IllegalArgumentException(
                    "table name '" + table + "' is not lower-case letters, digits and underscores");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be 1 or more");
        }
        this.connection = connection;
        this.table = table;
        this.batchSize = batchSize;
    }

    /**
     * Rewrites every row of the tenant whose key slot is not yet where {@code done} says it should be.
     *
     * @param done     whether a row's KEK reference is already the target (e.g. the newest version of the tenant's
     *                 key, or a key in the new KMS): those rows are skipped
     * @param target   the KEK the rows move to, where an interrupted run's slot for a DEK is looked for
     * @param rewrapper re-wraps a DEK; called once per distinct (DEK, wrapped form)
     * @param stopAfterRows test only: stop (as a crash would) once this many rows were rewritten; 0 for no limit
     */
    public Progress run(
            String tenant,
            Predicate<KekRef> done,
            KekRef target,
            Rewrapper rewrapper,
            Listener listener,
            long stopAfterRows)
            throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try {
            return rewrite(tenant, done, target, rewrapper, listener, stopAfterRows);
        } finally {
            connection.rollback();
            connection.setAutoCommit(autoCommit);
        }
    }

    /** The tenant's rows not yet under the target, by DEK id and KEK reference, with their counts. */
    private List<Object[]> notDone(String tenant, Predicate<KekRef> done) throws SQLException {
        List<Object[]> out = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement("SELECT dek_id, kek_ref, count(*) FROM " + table
                + " WHERE tenant = ? GROUP BY dek_id, kek_ref ORDER BY dek_id")) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    KekRef ref = parseOrNull(rs.getString(2));
                    if (ref == null || !done.test(ref)) {
                        out.add(new Object[] {rs.getString(1), rs.getString(2), rs.getLong(3)});
                    }
                }
            }
        }
        connection.commit();
        return out;
    }

    /** Whether rows of the tenant that are not under the target remain after {@code lastId}. */
    private boolean hasMore(String tenant, String lastId, KekRef target) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT 1 FROM " + table + " WHERE tenant = ? AND embedding_id > ? AND kek_ref <> ? LIMIT 1")) {
            ps.setString(1, tenant);
            ps.setString(2, lastId);
            ps.setString(3, target.toString());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** A key slot a row of this DEK already has under the target, or null. */
    private @Nullable WrappedDek alreadyMoved(String tenant, EnvelopeHeader h, KekRef target) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT envelope FROM " + table + " WHERE tenant = ? AND dek_id = ? AND kek_ref = ? LIMIT 1")) {
            ps.setString(1, tenant);
            ps.setString(2, h.dekId().toString());
            ps.setString(3, target.toString());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                try {
                    EnvelopeHeader moved = EnvelopeHeader.parse(rs.getBytes(1));
                    // Only a candidate: the rewrapper reuses it only if it unwraps to the very same DEK.
                    return moved.dekId().equals(h.dekId())
                                    && moved.tenantId().equals(tenant)
                                    && moved.kek().equals(target)
                            ? new WrappedDek(moved.kek(), moved.wrappedDek())
                            : null;
                } catch (EnvelopeException e) {
                    return null;
                }
            }
        }
    }

    private Progress rewrite(
            String tenant,
            Predicate<KekRef> done,
            KekRef target,
            Rewrapper rewrapper,
            Listener listener,
            long stopAfterRows)
            throws SQLException {
        // The work, by DEK and the KEK its rows name: one KMS re-wrap each.
        List<String[]> deks = new ArrayList<>();
        long total = 0;
        for (Object[] group : notDone(tenant, done)) {
            deks.add(new String[] {(String) group[0], (String) group[1]});
            total += (Long) group[2];
        }
        long rewritten = 0;
        long rewrapped = 0;
        long v1 = 0;
        long failed = 0;
        long changed = 0;
        Map<String, WrappedDek> slots = new HashMap<>(); // by DEK, KEK and the wrapped form the rows carry
        listener.onProgress(new Progress(total, 0, 0, deks.size(), 0, 0, 0), null);
        // One pass over the tenant's rows in primary-key order, each batch a range of it: rows of every DEK are met
        // where they lie (no index on the DEK id is needed, and none is scanned twice).
        String lastId = "";
        while (!deks.isEmpty()) {
            List<String> ids = new ArrayList<>();
            List<byte[]> envelopes = new ArrayList<>();
            try (PreparedStatement ps = connection.prepareStatement("SELECT embedding_id, envelope, kek_ref FROM "
                    + table + " WHERE tenant = ? AND embedding_id > ? AND kek_ref <> ? ORDER BY embedding_id LIMIT "
                    + batchSize)) {
                ps.setString(1, tenant);
                ps.setString(2, lastId);
                ps.setString(3, target.toString());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        lastId = rs.getString(1);
                        KekRef ref = parseOrNull(rs.getString(3));
                        if (ref == null || !done.test(ref)) {
                            ids.add(lastId);
                            envelopes.add(rs.getBytes(2));
                        }
                    }
                }
            }
            connection.commit();
            if (ids.isEmpty() && envelopes.isEmpty() && !hasMore(tenant, lastId, target)) {
                break;
            }
            List<Object[]> updates = new ArrayList<>();
            for (int i = 0; i < ids.size(); i++) {
                byte[] envelope = envelopes.get(i);
                EnvelopeHeader h;
                try {
                    h = EnvelopeHeader.parse(envelope);
                } catch (EnvelopeException e) {
                    failed++;
                    continue;
                }
                if (h.formatVersion() == EnvelopeHeader.VERSION_1) {
                    v1++;
                    continue;
                }
                if (!h.tenantId().equals(tenant) || !h.embeddingId().equals(ids.get(i))) {
                    failed++; // a row moved from elsewhere: not this tenant's to re-wrap
                    continue;
                }
                String slotKey = h.dekId() + "/" + h.kek() + "/"
                        + java.util.HexFormat.of().formatHex(h.wrappedDek());
                WrappedDek slot = slots.get(slotKey);
                if (slot == null && !slots.containsKey(slotKey)) {
                    try {
                        slot = rewrapper.rewrap(h, alreadyMoved(tenant, h, target));
                        rewrapped++;
                        listener.onProgress(
                                new Progress(total, rewritten, rewrapped, deks.size(), v1, failed, changed),
                                "DEK " + h.dekId() + ": " + h.kek() + " -> " + slot.kek());
                    } catch (RuntimeException e) {
                        slot = null;
                        listener.onProgress(
                                new Progress(total, rewritten, rewrapped, deks.size(), v1, failed, changed),
                                "DEK " + h.dekId() + " under " + h.kek() + " was not re-wrapped: "
                                        + e.getClass().getSimpleName() + ": " + e.getMessage());
                    }
                    slots.put(slotKey, slot);
                }
                if (slot == null) {
                    failed++;
                    continue;
                }
                byte[] moved = EnvelopeHeader.withKeySlot(envelope, slot.kek(), slot.wrapped());
                updates.add(new Object[] {moved, slot.kek().toString(), ids.get(i), envelope});
            }
            if (!updates.isEmpty()) {
                try (PreparedStatement ps = connection.prepareStatement("UPDATE " + table
                        + " SET envelope = ?, kek_ref = ? WHERE tenant = ? AND embedding_id = ? AND envelope = ?")) {
                    for (Object[] u : updates) {
                        ps.setBytes(1, (byte[]) u[0]);
                        ps.setString(2, (String) u[1]);
                        ps.setString(3, tenant);
                        ps.setString(4, (String) u[2]);
                        ps.setBytes(5, (byte[]) u[3]);
                        ps.addBatch();
                    }
                    int[] counts = ps.executeBatch();
                    for (int c : counts) {
                        if (c == 1 || c == java.sql.Statement.SUCCESS_NO_INFO) {
                            rewritten++;
                        } else {
                            changed++;
                        }
                    }
                }
                connection.commit();
            }
            listener.onProgress(new Progress(total, rewritten, rewrapped, deks.size(), v1, failed, changed), null);
            if (stopAfterRows > 0 && rewritten >= stopAfterRows) {
                return new Progress(total, rewritten, rewrapped, deks.size(), v1, failed, changed);
            }
        }
        long left = 0;
        for (Object[] group : notDone(tenant, done)) {
            left += (Long) group[2];
        }
        return new Progress(total, rewritten, rewrapped, deks.size(), v1, failed, changed, left);
    }

    private static @Nullable KekRef parseOrNull(String text) {
        try {
            return KekRef.parse(text);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
