package io.embedseal.app.search;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.serdes.EmbeddingUnsealer;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.ShredRecord;
import io.embedseal.sinks.blind.VectorKeys;
import io.embedseal.sinks.lucene.LuceneIndexes;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneVectorKeys;
import io.embedseal.sinks.postgres.PostgresBlindSearch;
import io.embedseal.sinks.postgres.PostgresSealedSearch;
import io.embedseal.sinks.postgres.PostgresVectorKeys;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.sinks.search.TenantGate;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.jspecify.annotations.Nullable;

/**
 * A search under the tenant's key, as {@code embedseal search} and the demo run it: the tenant's key events and
 * KMS must allow it (else {@link SearchRefusedException}), then the Lucene index is searched, or the PostgreSQL
 * sealed rows are unsealed in memory and scanned for the exact top k.
 */
public final class Search {

    /** Where the tenant's vectors are. */
    public sealed interface Store permits LuceneStore, PostgresStore {}

    /**
     * @param dir        the Lucene sink's {@code lucene.dir}
     * @param candidates HNSW candidates to explore
     * @param exact      scan every vector instead
     * @param encrypted  the sink's {@code lucene.encryption}: true for {@code tenant-key} (the tenant's index key is
     *                   unwrapped through its KMS), false for {@code none}
     */
    public record LuceneStore(
            Path dir,
            int candidates,
            boolean exact,
            boolean encrypted,
            int blindCandidates,
            VectorSimilarityFunction similarity,
            String purpose)
            implements Store {
        public LuceneStore(Path dir, int candidates, boolean exact, boolean encrypted) {
            this(dir, candidates, exact, encrypted, 0, VectorSimilarityFunction.COSINE, Sealer.DEFAULT_PURPOSE);
        }

        public LuceneStore(Path dir, int candidates, boolean exact) {
            this(dir, candidates, exact, true);
        }
    }

    /**
     * The PostgreSQL sink's database and table; {@code password} may be null.
     *
     * @param blindCandidates 0: sealed mode (every row of the tenant unsealed and scored); k′ > 0: blind mode (the k′
     *                        nearest ciphertexts from pgvector's index, unsealed and re-ranked)
     */
    public record PostgresStore(
            String url,
            String user,
            String password,
            String table,
            VectorSimilarityFunction similarity,
            String purpose,
            int blindCandidates)
            implements Store {
        public PostgresStore(
                String url, String user, String password, String table, VectorSimilarityFunction similarity) {
            this(url, user, password, table, similarity, Sealer.DEFAULT_PURPOSE, 0);
        }

        public PostgresStore(
                String url,
                String user,
                String password,
                String table,
                VectorSimilarityFunction similarity,
                String purpose) {
            this(url, user, password, table, similarity, purpose, 0);
        }

        @Override
        public String toString() {
            return "PostgresStore[" + url + ", table " + table + "]";
        }
    }

    /** The hits, where they came from, and how many vectors were looked at (exact scans). */
    public record Outcome(String tenantId, String where, List<SearchHit> hits, long scanned) {}

    /** Told how far a long scan got. */
    public interface Progress {
        void update(String line);
    }

    private Search() {}

    /**
     * @param keyring the tenant's KMS, named as the pipeline names its keys
     * @param state   the tenant's state from the key-event topic, or null if not read (or the tenant has none)
     * @throws SearchRefusedException   if the tenant's key does not allow the search
     * @throws IllegalArgumentException if the tenant has nothing to search there
     */
    public static Outcome run(
            String tenantId,
            float[] query,
            int k,
            Store store,
            Keyring keyring,
            @Nullable TenantState state,
            @Nullable Progress progress)
            throws SQLException {
        TenantGate.checkState(tenantId, state);
        String kekName = keyring.naming().kekNameFor(tenantId);
        if (store instanceof LuceneStore l) {
            Optional<ShredRecord> shredded = LuceneSearch.shredded(l.dir(), tenantId);
            if (shredded.isPresent()) {
                throw new SearchRefusedException(
                        tenantId,
                        "DESTROYED",
                        "tenant " + tenantId + "'s key was destroyed: its index was " + "shredded at "
                                + shredded.get().shreddedAt() + " (deleted "
                                + shredded.get().deleted() + ")");
            }
            TenantGate.checkKms(tenantId, keyring.kms(), kekName, state != null);
            // The tenant's index key is unwrapped here, through the same KMS, and destroyed when the search ends.
            try (LuceneIndexes indexes = l.encrypted()
                    ? LuceneIndexes.encrypted(l.dir(), keyring.kms(), keyring.naming(), 256L << 20)
                    : LuceneIndexes.plaintext(l.dir())) {
                if (l.blindCandidates() > 0) {
                    EmbeddingUnsealer unsealer =
                            new EmbeddingUnsealer(new Sealer(keyring, l.purpose(), true), tenantId);
                    try (VectorKeys keys =
                            new VectorKeys(keyring.kms(), keyring.naming(), new LuceneVectorKeys(l.dir()), 1.0)) {
                        List<SearchHit> hits = LuceneSearch.blind(
                                indexes,
                                tenantId,
                                query,
                                k,
                                Math.max(k, l.blindCandidates()),
                                unsealer,
                                keys,
                                l.similarity());
                        return new Outcome(
                                tenantId,
                                "lucene index " + l.dir().toAbsolutePath().resolve(tenantId) + " (blind index: "
                                        + Math.max(k, l.blindCandidates())
                                        + " nearest ciphertexts, unsealed and re-ranked)",
                                hits,
                                LuceneSearch.documentCount(indexes, tenantId));
                    }
                }
                List<SearchHit> hits = l.exact()
                        ? LuceneSearch.exact(indexes, tenantId, query, k)
                        : LuceneSearch.search(indexes, tenantId, query, k, l.candidates());
                long docs = LuceneSearch.documentCount(indexes, tenantId);
                return new Outcome(
                        tenantId,
                        "lucene index " + l.dir().toAbsolutePath().resolve(tenantId)
                                + (l.encrypted() ? ", encrypted under the tenant's index key" : ", unencrypted")
                                + (l.exact()
                                        ? " (exact scan)"
                                        : " (HNSW, " + Math.max(k, l.candidates()) + " candidates)"),
                        hits,
                        docs);
            }
        }
        PostgresStore p = (PostgresStore) store;
        // No describe here: opening the sealed rows asks the KMS for every DEK, and a refusal ends the search.
        // (A least-privilege reader may decrypt without being allowed to read the key's metadata.)
        try (Connection c = PostgresVectorStore.connect(p.url(), p.user(), p.password(), "embedseal-search")) {
            EmbeddingUnsealer unsealer = new EmbeddingUnsealer(new Sealer(keyring, p.purpose(), true), tenantId);
            if (p.blindCandidates() > 0) {
                // The tenant's vector key is unwrapped here, through its KMS, and destroyed when the search ends.
                try (VectorKeys keys = new VectorKeys(
                        keyring.kms(), keyring.naming(), new PostgresVectorKeys(() -> c, p.table()), 1.0)) {
                    PostgresBlindSearch.Result r = PostgresBlindSearch.search(
                            c,
                            p.table(),
                            tenantId,
                            unsealer,
                            keys,
                            query,
                            k,
                            Math.max(k, p.blindCandidates()),
                            p.similarity(),
                            true);
                    return new Outcome(
                            tenantId,
                            "postgresql table " + p.table() + " (blind index: " + r.candidates()
                                    + " nearest ciphertexts from pgvector, unsealed and re-ranked"
                                    + (r.unopenable() == 0 ? "" : ", " + r.unopenable() + " that do not open skipped")
                                    + ")",
                            r.hits(),
                            r.candidates());
                }
            }
            PostgresSealedSearch.Result r = PostgresSealedSearch.search(
                    c,
                    p.table(),
                    tenantId,
                    unsealer,
                    query,
                    k,
                    p.similarity(),
                    progress == null
                            ? null
                            : (rows, matching) -> progress.update("scanned " + rows + " sealed rows of " + tenantId
                                    + " (" + matching + " of " + query.length + " dimensions)"));
            if (r.rowsScanned() == 0) {
                throw new IllegalArgumentException("tenant " + tenantId + " has no rows in " + p.table()
                        + " (nothing sunk yet, or " + "another table: --postgres-table)");
            }
            return new Outcome(
                    tenantId,
                    "postgresql table " + p.table() + " (exact scan of " + r.rowsScanned() + " sealed rows, "
                            + r.otherDimension() + " of another dimension"
                            + (r.unopenable() == 0 ? "" : ", " + r.unopenable() + " rows that do not open skipped")
                            + ")",
                    r.hits(),
                    r.rowsScanned());
        }
    }
}
