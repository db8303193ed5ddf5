package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.sinks.postgres.PostgresSealedSearch;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.sinks.search.TopK;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PostgreSQL specifics on the real server: mode detection, what a row holds, exact search over sealed rows. */
class PostgresStoreTest {

    @TempDir
    Path tmp;

    Sealed sealed;
    final String table = PostgresTestDatabase.freshTable("pgstore");

    @BeforeAll
    static void needsPostgres() {
        PostgresTestDatabase.assumeAvailable();
    }

    @BeforeEach
    void setUp() {
        sealed = new Sealed(tmp.resolve("kms"));
        sealed.onboard("acme");
    }

    @AfterEach
    void tearDown() {
        sealed.close();
    }

    static boolean pgvectorAvailable() throws Exception {
        try (Connection c = PostgresTestDatabase.connect();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")) {
            return rs.next();
        }
    }

    @Test
    void indexMode_withoutPgvector_failsNamingTheSetting() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(pgvectorAvailable(), "this server has pgvector");
        Map<String, String> s = PostgresVectorStoreContractTest.settings(table, "index");
        s.put(PostgresSinkConfig.VECTOR_DIMENSIONS, "8");
        assertThatThrownBy(() -> PostgresVectorStore.open(new PostgresSinkConfig(s), "pg", 0))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("postgres.mode=index")
                .hasMessageContaining("pgvector");
    }

    @Test
    void autoMode_withoutPgvector_storesSealed() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(pgvectorAvailable(), "this server has pgvector");
        Map<String, String> s = PostgresVectorStoreContractTest.settings(table, "auto");
        s.put(PostgresSinkConfig.VECTOR_DIMENSIONS, "8");
        try (PostgresVectorStore store = PostgresVectorStore.open(new PostgresSinkConfig(s), "pg", 0)) {
            assertThat(store.indexMode()).isFalse();
            assertThat(store.needsPlaintext()).isFalse();
        }
    }

    @Test
    void sealedRow_holdsTheEnvelopeAndNonSecretIdsOnly() throws Exception {
        float[] v = Sealed.randomVector(new Random(1), 64);
        StoredRecord r = sealed.stored("acme", "e-1", v, false, 41);
        try (PostgresVectorStore store = PostgresVectorStore.open(
                new PostgresSinkConfig(PostgresVectorStoreContractTest.settings(table, "sealed")), "pg", 0)) {
            store.upsert(r);
            store.flush();
        }
        try (Connection c = PostgresTestDatabase.connect();
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(
                        "SELECT tenant, embedding_id, kek_ref, dek_id, envelope, source_topic, source_partition, source_offset FROM "
                                + table)) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("acme");
            assertThat(rs.getString(2)).isEqualTo("e-1");
            assertThat(rs.getString(3)).isEqualTo(r.header().kek().toString());
            assertThat(rs.getString(4)).isEqualTo(r.header().dekId().toString());
            assertThat(rs.getBytes(5)).isEqualTo(r.envelope());
            assertThat(rs.getString(6)).isEqualTo("embeddings.sealed");
            assertThat(rs.getLong(8)).isEqualTo(41);
            io.embedseal.testkit.VectorLeakScanner scanner = new io.embedseal.testkit.VectorLeakScanner();
            scanner.add(v);
            assertThat(scanner.scan(rs.getBytes(5)))
                    .as("plaintext vector bytes in the stored envelope")
                    .isZero();
            assertThat(rs.next()).isFalse();
        }
    }

    @Test
    void sealedSearch_unsealsInMemory_andMatchesABruteForceTopK() throws Exception {
        Random random = new Random(3);
        List<float[]> vectors = new ArrayList<>();
        try (PostgresVectorStore store = PostgresVectorStore.open(
                new PostgresSinkConfig(PostgresVectorStoreContractTest.settings(table, "sealed")), "pg", 0)) {
            for (int i = 0; i < 300; i++) {
                float[] v = Sealed.randomVector(random, 32);
                vectors.add(v);
                store.upsert(sealed.stored("acme", "e-" + i, v, false, i));
            }
            store.upsert(sealed.stored("acme", "other-dims", Sealed.randomVector(random, 16), false, 999));
            store.flush();
        }
        float[] query = vectors.get(123);
        TopK expected = new TopK(5);
        for (int i = 0; i < vectors.size(); i++) {
            expected.offer(
                    new SearchHit("e-" + i, VectorSimilarityFunction.COSINE.compare(query, vectors.get(i)), "test-32"));
        }
        AtomicLong progressCalls = new AtomicLong();
        try (Connection c = PostgresTestDatabase.connect()) {
            PostgresSealedSearch.Result result = PostgresSealedSearch.search(
                    c,
                    table,
                    "acme",
                    sealed.unsealer,
                    query,
                    5,
                    VectorSimilarityFunction.COSINE,
                    (rows, matching) -> progressCalls.incrementAndGet());
            assertThat(result.hits())
                    .extracting(SearchHit::embeddingId)
                    .containsExactlyElementsOf(expected.result().stream()
                            .map(SearchHit::embeddingId)
                            .toList());
            assertThat(result.hits().get(0).embeddingId()).isEqualTo("e-123");
            assertThat(result.rowsScanned()).isEqualTo(301);
            assertThat(result.otherDimension()).isEqualTo(1);
        }
    }

    /**
     * Anyone who can write the table can put a junk or altered row under a tenant. Before, one such row ended the
     * tenant's search with an error; now it is skipped and counted, and the tenant's own rows still rank.
     */
    @Test
    void sealedSearch_skipsAndCountsRowsThatDoNotOpen() throws Exception {
        Random random = new Random(9);
        float[] target = Sealed.randomVector(random, 8);
        try (PostgresVectorStore store = PostgresVectorStore.open(
                new PostgresSinkConfig(PostgresVectorStoreContractTest.settings(table, "sealed")), "pg", 0)) {
            store.upsert(sealed.stored("acme", "e-1", target, false, 1));
            store.upsert(sealed.stored("acme", "e-2", Sealed.randomVector(random, 8), false, 2));
            store.upsert(sealed.stored("acme", "e-3", Sealed.randomVector(random, 8), false, 3));
            store.flush();
        }
        String kekName = sealed.keyring.naming().kekNameFor("acme");
        try (Connection c = PostgresTestDatabase.connect();
                java.sql.Statement st = c.createStatement()) {
            // An altered envelope (one bit of its ciphertext) and another row's envelope moved under a new id.
            st.executeUpdate("INSERT INTO " + table + " (tenant, embedding_id, kek_ref, dek_id, envelope, source_topic,"
                    + " source_partition, source_offset) SELECT tenant, 'moved', kek_ref, dek_id, envelope, source_topic,"
                    + " source_partition, source_offset FROM " + table + " WHERE embedding_id = 'e-2'");
            st.executeUpdate("UPDATE " + table + " SET envelope = set_byte(envelope, length(envelope) - 3,"
                    + " get_byte(envelope, length(envelope) - 3) # 1) WHERE embedding_id = 'e-2'");
            // A row naming a key version nobody has: its KMS answers "unknown", for this row only.
            st.executeUpdate("UPDATE " + table + " SET envelope = decode(replace(encode(envelope, 'hex'),"
                    + " encode(convert_to('" + kekName + ":1', 'UTF8'), 'hex'), encode(convert_to('" + kekName
                    + ":9', 'UTF8'), 'hex')), 'hex') WHERE embedding_id = 'e-3'");
        }
        try (Connection c = PostgresTestDatabase.connect()) {
            PostgresSealedSearch.Result r = PostgresSealedSearch.search(
                    c, table, "acme", sealed.unsealer, target, 3, VectorSimilarityFunction.COSINE, null);
            assertThat(r.hits()).extracting(SearchHit::embeddingId).containsExactly("e-1");
            assertThat(r.rowsScanned()).isEqualTo(1);
            assertThat(r.unopenable()).isEqualTo(3);
        }
    }

    @Test
    void sealedSearch_ofATenantWhoseKeyIsGone_isRefused() throws Exception {
        try (PostgresVectorStore store = PostgresVectorStore.open(
                new PostgresSinkConfig(PostgresVectorStoreContractTest.settings(table, "sealed")), "pg", 0)) {
            store.upsert(sealed.stored("acme", "e-1", Sealed.randomVector(new Random(5), 8), false, 1));
            store.flush();
        }
        sealed.kms.destroy(sealed.keyring.naming().kekNameFor("acme"));
        sealed.keyring.evict("acme");
        try (Connection c = PostgresTestDatabase.connect()) {
            assertThatThrownBy(() -> PostgresSealedSearch.search(
                            c, table, "acme", sealed.unsealer, new float[8], 3, VectorSimilarityFunction.COSINE, null))
                    .isInstanceOfSatisfying(
                            SearchRefusedException.class,
                            e -> assertThat(e.getMessage()).contains("KMS refuses tenant acme"));
        }
    }
}
