package io.embedseal.sinks.postgres;

import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.UnsealedEmbedding;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.sinks.search.TopK;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Objects;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.jspecify.annotations.Nullable;

/**
 * Exact top-k over a tenant's sealed rows: streams the envelopes from PostgreSQL, unseals each in memory through
 * the tenant's KMS (one unwrap per DEK, cached), scores it and keeps the best k. Nothing unsealed is written
 * anywhere. The KMS refusing the tenant's key ends the search with a {@link SearchRefusedException}.
 */
public final class PostgresSealedSearch {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PostgresSealedSearch.class);

    /** Told how far a scan got, about twice a second. */
    public interface Progress {
        void scanned(long rows, long matchingDimension);
    }

    /** The hits and what the scan saw. */
    /**
     * @param rowsScanned rows that opened
     * @param unopenable  rows skipped because they do not open as the tenant's envelopes (altered, junk, misplaced)
     */
    public record Result(List<SearchHit> hits, long rowsScanned, long otherDimension, long unopenable) {}

    private PostgresSealedSearch() {}

    /**
     * @param table       the sink's table ({@code postgres.table})
     * @param similarity  how to score (Lucene's definitions, so scores compare with the Lucene sink's)
     * @param progress    may be null
     */
    public static Result search(
            Connection connection,
            String table,
            String tenantId,
            EmbeddingUnsealer unsealer,
            float[] query,
            int k,
            VectorSimilarityFunction similarity,
            @Nullable Progress progress)
            throws SQLException {
        if (!PostgresSinkConfig.TABLE_NAME.matcher(table).matches()) {
            throw new IllegalArgumentException(
                    "table name '" + table + "' is not lower-case letters, digits and underscores");
        }
        Objects.requireNonNull(unsealer, "unsealer");
        TopK top = new TopK(k);
        long rows = 0;
        long otherDimension = 0;
        long unopenable = 0;
        long unknownKey = 0;
        long denied = 0;
        long lastReport = System.nanoTime();
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false); // a cursor: rows stream in batches instead of all at once
        try (PreparedStatement ps = connection.prepareStatement("SELECT embedding_id, envelope FROM " + table
                + " WHERE tenant = ? AND NOT deleted ORDER BY embedding_id")) {
            ps.setFetchSize(1000);
            ps.setString(1, tenantId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String id = rs.getString(1);
                    byte[] envelope = rs.getBytes(2);
                    UnsealedEmbedding opened;
                    try {
                        opened = unsealer.unseal(new SealedRecordKey(tenantId, id).toBytes(), envelope);
                    } catch (EnvelopeException e) {
                        switch (e.reason()) {
                            case KEY_REVOKED -> {
                                // The KEK version is in a row's unauthenticated key slot: one row naming an old,
                                // restricted version (or junk) must not deny the tenant its search. If no row opens
                                // and some were refused, the tenant's key is refused: below.
                                denied++;
                                unopenable++;
                                continue;
                            }
                            case KEY_UNKNOWN -> {
                                // A row may name a key version nobody has (junk): skipped like any row that does
                                // not open. If no row opens at all, the tenant's key is gone: refused below.
                                unknownKey++;
                                unopenable++;
                                continue;
                            }
                            case KMS_UNAVAILABLE, KEY_FAILED ->
                                throw new IllegalStateException(
                                        "the KMS could not open tenant " + tenantId + "'s rows: " + e.getMessage(), e);
                            default -> {
                                // A junk, altered or misplaced row (anyone with write access to the table can put
                                // one there): skipped and counted, so it cannot deny the tenant its search.
                                if (unopenable++ == 0) {
                                    LOG.warn(
                                            "row {} of tenant {} in {} does not open ({}); skipping such rows",
                                            id,
                                            tenantId,
                                            table,
                                            e.reason());
                                }
                                continue;
                            }
                        }
                    }
                    rows++;
                    List<Float> v = opened.event().getVector();
                    if (v.size() != query.length) {
                        otherDimension++;
                    } else {
                        float[] vector = new float[v.size()];
                        for (int i = 0; i < vector.length; i++) {
                            vector[i] = v.get(i);
                        }
                        top.offer(new SearchHit(
                                id,
                                similarity.compare(query, vector),
                                opened.event().getModel()));
                    }
                    if (progress != null && System.nanoTime() - lastReport > 500_000_000L) {
                        progress.scanned(rows, rows - otherDimension);
                        lastReport = System.nanoTime();
                    }
                }
            }
            connection.commit();
            if (rows == 0 && denied > 0) {
                throw new SearchRefusedException(
                        tenantId,
                        "DENIED",
                        "the KMS refuses tenant " + tenantId
                                + "'s key (KEY_REVOKED): its sealed rows cannot be opened");
            }
            if (rows == 0 && unknownKey > 0) {
                throw new SearchRefusedException(
                        tenantId,
                        "DENIED",
                        "the KMS refuses tenant " + tenantId
                                + "'s key (KEY_UNKNOWN): its sealed rows cannot be opened");
            }
        } finally {
            connection.setAutoCommit(autoCommit);
        }
        return new Result(top.result(), rows, otherDimension, unopenable);
    }
}
