package io.embedseal.sinks.postgres;

import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.sinks.blind.Dcpe;
import io.embedseal.sinks.blind.VectorKey;
import io.embedseal.sinks.blind.VectorKeys;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.sinks.search.TopK;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.index.VectorSimilarityFunction;

/**
 * Search in blind mode: the query is encrypted under the tenant's vector key (unwrapped through its KMS), pgvector's
 * HNSW index over the ciphertexts returns the k′ nearest candidates, and their envelopes are unsealed in memory and
 * scored exactly, so the answer is the true top k among the candidates. The database sees neither a vector nor the
 * query; the KMS refusing the tenant's key ends the search with a {@link SearchRefusedException}.
 */
public final class PostgresBlindSearch {

    /** pgvector's largest {@code hnsw.ef_search}. */
    public static final int MAX_CANDIDATES = 1000;

    /**
     * @param hits       the top k, re-ranked exactly (or in the index's order, without re-ranking)
     * @param candidates rows the index returned
     * @param unopenable candidates skipped because they do not open as the tenant's envelopes
     */
    public record Result(List<SearchHit> hits, int candidates, int unopenable) {}

    private PostgresBlindSearch() {}

    /** Whether the database's pgvector has iterative index scans (0.8.0 and later). */
    static boolean iterativeScans(Statement s) throws SQLException {
        try (java.sql.ResultSet rs = s.executeQuery("SELECT extversion FROM pg_extension WHERE extname = 'vector'")) {
            if (!rs.next()) {
                return false;
            }
            String[] v = rs.getString(1).split("\\.", -1);
            try {
                int major = Integer.parseInt(v[0]);
                int minor = v.length > 1 ? Integer.parseInt(v[1]) : 0;
                return major > 0 || minor >= 8;
            } catch (NumberFormatException e) {
                return false;
            }
        }
    }

    /**
     * @param candidates k′ ≥ k: how many nearest ciphertexts to fetch and re-rank (at most {@value #MAX_CANDIDATES})
     * @param rerank     false: return the first k in the index's order, scored exactly (for measuring what re-ranking
     *                   gives back)
     * @throws SearchRefusedException   if the tenant's KMS refuses its key
     * @throws IllegalArgumentException if the tenant has no vector key in the table (nothing stored in blind mode)
     */
    public static Result search(
            Connection connection,
            String table,
            String tenantId,
            EmbeddingUnsealer unsealer,
            VectorKeys keys,
            float[] query,
            int k,
            int candidates,
            VectorSimilarityFunction similarity,
            boolean rerank)
            throws SQLException {
        return search(connection, table, tenantId, unsealer, keys, query, k, candidates, similarity, rerank, 0);
    }

    /**
     * As above, with pgvector's {@code hnsw.ef_search} at least {@code efSearch} (the benchmark compares blind and
     * index mode at the same search effort; otherwise it is max(40, candidates)).
     */
    public static Result search(
            Connection connection,
            String table,
            String tenantId,
            EmbeddingUnsealer unsealer,
            VectorKeys keys,
            float[] query,
            int k,
            int candidates,
            VectorSimilarityFunction similarity,
            boolean rerank,
            int efSearch)
            throws SQLException {
        if (!PostgresSinkConfig.TABLE_NAME.matcher(table).matches()) {
            throw new IllegalArgumentException(
                    "table name '" + table + "' is not lower-case letters, digits and underscores");
        }
        if (k < 1 || candidates < k || candidates > MAX_CANDIDATES) {
            throw new IllegalArgumentException(
                    "candidates must be between k (" + k + ") and " + MAX_CANDIDATES + ", not " + candidates);
        }
        VectorKey key;
        try {
            key = keys.get(tenantId, false)
                    .orElseThrow(() -> new IllegalArgumentException("tenant " + tenantId + " has no vector key in "
                            + table + "_vector_keys: nothing of it was stored in blind mode (postgres.mode=blind)"));
        } catch (KmsUnavailableException e) {
            throw new IllegalStateException(
                    "the KMS could not open tenant " + tenantId + "'s vector key: " + e.getMessage(), e);
        } catch (KmsException e) {
            throw new SearchRefusedException(
                    tenantId,
                    "DENIED",
                    "the KMS refuses tenant " + tenantId + "'s vector key (" + e.getMessage()
                            + "): its vectors cannot be searched");
        }
        float[] q = similarity == VectorSimilarityFunction.COSINE ? Dcpe.unit(query) : query;
        float[] encrypted = Dcpe.encrypt(key, q).vector();
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        TopK top = new TopK(k);
        List<SearchHit> inOrder = new ArrayList<>();
        int returned = 0;
        int unopenable = 0;
        int denied = 0;
        try {
            try (Statement s = connection.createStatement()) {
                // Enough of the graph to hold k′ candidates, and (pgvector 0.8) go on scanning while the tenant filter
                // leaves fewer than k′: several tenants share the index.
                s.execute("SET LOCAL hnsw.ef_search = "
                        + Math.min(MAX_CANDIDATES, Math.max(Math.max(40, efSearch), candidates)));
                if (iterativeScans(s)) {
                    s.execute("SET LOCAL hnsw.iterative_scan = strict_order");
                }
            }
            try (PreparedStatement ps = connection.prepareStatement("SELECT embedding_id, envelope FROM " + table
                    + " WHERE tenant = ? AND NOT deleted AND blind_key = ? ORDER BY blind <-> ?::vector LIMIT ?")) {
                ps.setString(1, tenantId);
                ps.setBytes(2, key.id());
                ps.setString(3, PostgresVectorStore.vectorLiteral(encrypted));
                ps.setInt(4, candidates);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        returned++;
                        String id = rs.getString(1);
                        io.embedseal.serdes.UnsealedVector opened;
                        try {
                            opened = unsealer.unsealVector(new SealedRecordKey(tenantId, id).toBytes(), rs.getBytes(2));
                        } catch (EnvelopeException e) {
                            switch (e.reason()) {
                                case KMS_UNAVAILABLE, KEY_FAILED ->
                                    throw new IllegalStateException(
                                            "the KMS could not open tenant " + tenantId + "'s rows: " + e.getMessage(),
                                            e);
                                case KEY_REVOKED, KEY_UNKNOWN -> denied++;
                                default -> {
                                    // junk or altered rows are skipped, as in sealed mode's scan
                                }
                            }
                            unopenable++;
                            continue;
                        }
                        float[] vector = opened.vector();
                        if (vector.length != query.length) {
                            unopenable++;
                            continue;
                        }
                        SearchHit hit = new SearchHit(id, similarity.compare(query, vector), opened.model());
                        top.offer(hit);
                        if (inOrder.size() < k) {
                            inOrder.add(hit);
                        }
                    }
                }
            }
            connection.commit();
        } finally {
            connection.setAutoCommit(autoCommit);
        }
        if (returned > 0 && returned == denied) {
            throw new SearchRefusedException(
                    tenantId, "DENIED", "the KMS refuses tenant " + tenantId + "'s key: its rows cannot be opened");
        }
        return new Result(rerank ? top.result() : inOrder, returned, unopenable);
    }
}
