package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.sinks.blind.Dcpe;
import io.embedseal.sinks.blind.VectorKey;
import io.embedseal.sinks.blind.VectorKeys;
import io.embedseal.sinks.blind.WrappedVectorKey;
import io.embedseal.sinks.postgres.PostgresBlindSearch;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresVectorKeys;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.sinks.search.TopK;
import io.embedseal.testkit.PgliteServer;
import io.embedseal.testkit.VectorLeakScanner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Blind mode on real pgvector (PGlite): what the database holds, what search gives back, and the attacks on it.
 */
@DisplayName(
        "Blind mode on pgvector (PGlite): no plaintext in the database, re-ranked search, keys that stay the tenant's")
class PgvectorBlindIndexTest {

    static final int DIMS = 32;

    static PgliteServer db;

    @TempDir
    Path tmp;

    Sealed sealed;
    final String table = PostgresTestDatabase.freshTable("blind");

    @BeforeAll
    static void server() {
        db = PgliteTestDatabase.server();
    }

    @BeforeEach
    void keys() {
        sealed = new Sealed(tmp.resolve("kms"));
        sealed.onboard("acme");
        sealed.onboard("globex");
    }

    @AfterEach
    void close() {
        sealed.close();
    }

    Map<String, String> settings(String table, String mode) {
        Map<String, String> s = PostgresVectorStoreContractTest.settings(table, mode);
        s.put(PostgresSinkConfig.URL, db.url());
        s.put(PostgresSinkConfig.USER, PgliteServer.USER);
        s.put(PostgresSinkConfig.PASSWORD, PgliteServer.PASSWORD);
        s.put(PostgresSinkConfig.VECTOR_DIMENSIONS, String.valueOf(DIMS));
        return s;
    }

    PostgresVectorStore open(String table, String mode) {
        return PostgresVectorStore.open(
                new PostgresSinkConfig(settings(table, mode)), "blind-test", 0, sealed.kms, sealed.keyring.naming());
    }

    /** Unit vectors in 20 clusters, so that neighbours mean something. */
    static List<float[]> clustered(Random r, int n) {
        List<float[]> centres = new ArrayList<>();
        for (int c = 0; c < 20; c++) {
            centres.add(gaussian(r, 1.0));
        }
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] c = centres.get(i % centres.size());
            float[] v = gaussian(r, 0.35);
            for (int d = 0; d < DIMS; d++) {
                v[d] += c[d];
            }
            out.add(Dcpe.unit(v));
        }
        return out;
    }

    static float[] gaussian(Random r, double sd) {
        float[] v = new float[DIMS];
        for (int d = 0; d < DIMS; d++) {
            v[d] = (float) (r.nextGaussian() * sd);
        }
        return v;
    }

    void sink(PostgresVectorStore store, String tenant, List<float[]> vectors) {
        for (int i = 0; i < vectors.size(); i++) {
            store.upsert(sealed.stored(tenant, "e-" + i, vectors.get(i), true, i));
        }
        store.flush();
    }

    static Set<String> exactTop(List<float[]> vectors, float[] query, int k) {
        TopK top = new TopK(k);
        for (int i = 0; i < vectors.size(); i++) {
            top.offer(new SearchHit("e-" + i, VectorSimilarityFunction.COSINE.compare(query, vectors.get(i)), ""));
        }
        Set<String> ids = new HashSet<>();
        top.result().forEach(h -> ids.add(h.embeddingId()));
        return ids;
    }

    VectorKeys searchKeys(Connection c, String table) {
        return new VectorKeys(sealed.kms, sealed.keyring.naming(), new PostgresVectorKeys(() -> c, table), 1.0);
    }

    @Test
    void search_reranksTheCandidates_intoTheExactTopK_andTheDatabaseHoldsNoVector() throws Exception {
        Random r = new Random(1);
        List<float[]> acme = clustered(r, 400);
        List<float[]> control = clustered(r, 200);
        String controlTable = table + "_ctl";
        try (PostgresVectorStore blind = open(table, "blind");
                PostgresVectorStore index = open(controlTable, "index")) {
            assertThat(blind.blindMode()).isTrue();
            sink(blind, "acme", acme);
            sink(index, "acme", control);
        }
        double reranked = 0;
        double indexOrder = 0;
        try (Connection c = db.connect();
                VectorKeys keys = searchKeys(c, table)) {
            for (int q = 0; q < 20; q++) {
                float[] query = acme.get(q * 17);
                Set<String> truth = exactTop(acme, query, 10);
                PostgresBlindSearch.Result hits = PostgresBlindSearch.search(
                        c, table, "acme", sealed.unsealer, keys, query, 10, 100, VectorSimilarityFunction.COSINE, true);
                assertThat(hits.candidates()).isEqualTo(100);
                reranked += overlap(truth, hits.hits()) / 10.0;
                PostgresBlindSearch.Result raw = PostgresBlindSearch.search(
                        c, table, "acme", sealed.unsealer, keys, query, 10, 10, VectorSimilarityFunction.COSINE, false);
                indexOrder += overlap(truth, raw.hits()) / 10.0;
            }
        }
        assertThat(reranked / 20).as("recall@10 re-ranked from 100 candidates").isGreaterThanOrEqualTo(0.95);
        assertThat(reranked).isGreaterThanOrEqualTo(indexOrder);

        // What the database holds: every column of both tables, decoded, and every file of its data directory.
        VectorLeakScanner blindVectors = new VectorLeakScanner();
        acme.forEach(blindVectors::add);
        VectorLeakScanner controlVectors = new VectorLeakScanner();
        control.forEach(controlVectors::add);
        byte[] blindDump = dump(table);
        byte[] controlDump = dump(controlTable);
        assertThat(controlVectors.scan(controlDump))
                .as("index mode (control): vectors in the table")
                .isPositive();
        assertThat(blindVectors.scan(blindDump))
                .as("blind mode: vectors in the table")
                .isZero();
        try (Connection c = db.connect();
                Statement s = c.createStatement()) {
            s.execute("CHECKPOINT");
        }
        long controlHits = 0;
        long blindHits = 0;
        try (Stream<Path> files = Files.walk(db.dataDirectory())) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                controlHits += controlVectors.scanFile(f);
                blindHits += blindVectors.scanFile(f);
            }
        }
        assertThat(controlHits)
                .as("index mode (control): vectors in PGlite's files")
                .isPositive();
        assertThat(blindHits).as("blind mode: vectors in PGlite's files").isZero();
    }

    static int overlap(Set<String> truth, List<SearchHit> hits) {
        int n = 0;
        for (SearchHit h : hits) {
            n += truth.contains(h.embeddingId()) ? 1 : 0;
        }
        return n;
    }

    /** Every row of the table as bytes: bytea as is, text as UTF-8, pgvector values as little-endian float32. */
    byte[] dump(String table) throws SQLException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (Connection c = db.connect();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT * FROM " + table)) {
            ResultSetMetaData md = rs.getMetaData();
            while (rs.next()) {
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    String type = md.getColumnTypeName(i);
                    if (type.equals("bytea")) {
                        byte[] b = rs.getBytes(i);
                        out.writeBytes(b == null ? new byte[0] : b);
                    } else if (type.equals("vector")) {
                        String text = rs.getString(i);
                        if (text != null) {
                            String[] parts =
                                    text.substring(1, text.length() - 1).split(",");
                            ByteBuffer b = ByteBuffer.allocate(4 * parts.length).order(ByteOrder.LITTLE_ENDIAN);
                            for (String p : parts) {
                                b.putFloat(Float.parseFloat(p));
                            }
                            out.writeBytes(b.array());
                        }
                    } else {
                        String text = rs.getString(i);
                        out.writeBytes(text == null ? new byte[0] : text.getBytes(StandardCharsets.UTF_8));
                    }
                }
            }
        }
        return out.toByteArray();
    }

    /**
     * The store's operator, or anyone holding another tenant's vector key (its own tenant's, say), ranks acme's
     * ciphertexts against a query encrypted under that key. With acme's own key (what only acme's side has) the
     * index order finds most true neighbours; with globex's key, chance.
     */
    @Test
    void anotherTenantsVectorKey_cannotRankThisTenantsVectors() throws Exception {
        Random r = new Random(2);
        List<float[]> acme = clustered(r, 400);
        try (PostgresVectorStore blind = open(table, "blind")) {
            sink(blind, "acme", acme);
            sink(blind, "globex", clustered(r, 50));
        }
        double own = 0;
        double other = 0;
        try (Connection c = db.connect();
                VectorKeys keys = searchKeys(c, table)) {
            VectorKey acmeKey = keys.get("acme", false).orElseThrow();
            VectorKey globexKey = keys.get("globex", false).orElseThrow();
            for (int q = 0; q < 20; q++) {
                float[] query = acme.get(q * 13);
                Set<String> truth = exactTop(acme, query, 10);
                own += overlap(
                                truth,
                                nearestCiphertexts(
                                        c, Dcpe.encrypt(acmeKey, query).vector()))
                        / 10.0;
                other += overlap(
                                truth,
                                nearestCiphertexts(
                                        c, Dcpe.encrypt(globexKey, query).vector()))
                        / 10.0;
            }
        }
        System.out.printf(
                "[blind] recall@10 of acme's vectors ranked by the store: acme's key %.3f, globex's key %.3f "
                        + "(chance 0.025)%n",
                own / 20, other / 20);
        assertThat(own / 20).as("acme's key (control)").isGreaterThanOrEqualTo(0.6);
        assertThat(other / 20).as("globex's key").isLessThanOrEqualTo(0.1);
    }

    /** Acme's rows nearest the ciphertext, straight from pgvector (no key filter: the attacker's own SQL). */
    List<SearchHit> nearestCiphertexts(Connection c, float[] ciphertext) throws SQLException {
        List<SearchHit> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT embedding_id FROM " + table + " WHERE tenant = 'acme' ORDER BY blind <-> ?::vector LIMIT 10")) {
            StringBuilder v = new StringBuilder("[");
            for (int i = 0; i < ciphertext.length; i++) {
                v.append(i == 0 ? "" : ",").append(ciphertext[i]);
            }
            ps.setString(1, v.append(']').toString());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new SearchHit(rs.getString(1), 0, ""));
                }
            }
        }
        return out;
    }

    /**
     * A store that wants to read acme's vectors plants a vector key it knows, wrapped under a KEK it controls (here:
     * globex's, in the same KMS) with acme's associated data. The KMS unwraps it (the attack, with the sink's check
     * off: the sink would then encrypt acme's vectors under the store's key); the sink refuses it before asking.
     */
    @Test
    void aVectorKeyPlantedUnderAnotherKek_isRefused_notUsed() throws Exception {
        byte[] id = new byte[16];
        byte[] secret = new byte[32];
        new Random(3).nextBytes(secret);
        byte[] aad = WrappedVectorKey.associatedData("acme", id, 1.0);
        WrappedDek planted = sealed.kms.wrapDek(sealed.keyring.naming().kekNameFor("globex"), secret.clone(), aad);
        // Defence off: nothing in the KMS stops the planted key from opening.
        assertThat(sealed.kms.unwrapDek(planted.kek(), planted.wrapped(), aad)).isEqualTo(secret);
        try (PostgresVectorStore blind = open(table, "blind")) {
            try (Connection c = db.connect();
                    PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + "_vector_keys (tenant, key_id, "
                            + "beta, kek_ref, wrapped) VALUES ('acme', ?, 1.0, ?, ?)")) {
                ps.setBytes(1, id);
                ps.setString(2, planted.kek().toString());
                ps.setBytes(3, planted.wrapped());
                ps.executeUpdate();
            }
            assertThatThrownBy(() -> blind.upsert(sealed.stored("acme", "e-1", gaussian(new Random(4), 1), true, 1)))
                    .isInstanceOf(RefusedRecordException.class)
                    .hasMessageContaining("KEY_FAILED")
                    .hasMessageContaining("not the tenant's key");
            // globex is untouched
            assertThat(blind.upsert(sealed.stored("globex", "g-1", gaussian(new Random(5), 1), true, 2)))
                    .isTrue();
            blind.flush();
        }
        try (Connection c = db.connect();
                VectorKeys keys = searchKeys(c, table)) {
            assertThatThrownBy(() -> keys.get("acme", false)).isInstanceOf(KeyDeniedException.class);
        }
    }

    /** β is bound to the wrapped key: a store that raises or lowers it makes the key refuse to open. */
    @Test
    void aStoreThatChangesBeta_breaksTheKey_ratherThanTheNoise() throws Exception {
        try (PostgresVectorStore blind = open(table, "blind")) {
            sink(blind, "acme", clustered(new Random(6), 5));
        }
        try (Connection c = db.connect();
                Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE " + table + "_vector_keys SET beta = 0.01 WHERE tenant = 'acme'");
        }
        try (Connection c = db.connect();
                VectorKeys keys = searchKeys(c, table)) {
            assertThatThrownBy(() -> keys.get("acme", false)).isInstanceOf(KmsException.class);
        }
    }

    @Test
    void revocation_forgetsTheKey_andTheKmsRefusesTheSearch_destructionDeletesRowsAndKey() throws Exception {
        List<float[]> vectors = clustered(new Random(7), 30);
        String kek = sealed.keyring.naming().kekNameFor("acme");
        try (PostgresVectorStore blind = open(table, "blind")) {
            sink(blind, "acme", vectors);
            sink(blind, "globex", clustered(new Random(8), 10));
            StoredRecord late =
                    sealed.stored("acme", "late", vectors.get(1), true, 99); // unsealed before the revocation
            blind.tenantChanged(state("acme", TenantStatus.REVOKED), false);
            sealed.kms.disable(kek);
            sealed.keyring.evict("acme");
            try (Connection c = db.connect();
                    VectorKeys keys = searchKeys(c, table)) {
                assertThatThrownBy(() -> PostgresBlindSearch.search(
                                c,
                                table,
                                "acme",
                                sealed.unsealer,
                                keys,
                                vectors.get(0),
                                5,
                                20,
                                VectorSimilarityFunction.COSINE,
                                true))
                        .isInstanceOf(SearchRefusedException.class);
            }
            // The key left memory: the store asks the KMS again for the next record, and is refused.
            assertThatThrownBy(() -> blind.upsert(late))
                    .isInstanceOf(RefusedRecordException.class)
                    .hasMessageContaining("KEY_FAILED");
            sealed.kms.enable(kek);
            blind.tenantChanged(state("acme", TenantStatus.DESTROYED), false);
            ShredRecord receipt = blind.shred(state("acme", TenantStatus.DESTROYED));
            assertThat(receipt.deleted()).containsEntry("rows", 30L).containsEntry("vectors", 30L);
        }
        try (Connection c = db.connect();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT (SELECT count(*) FROM " + table + " WHERE tenant = 'acme'), "
                        + "(SELECT count(*) FROM " + table + "_vector_keys WHERE tenant = 'acme'), "
                        + "(SELECT count(*) FROM " + table + "_vector_keys WHERE tenant = 'globex')")) {
            rs.next();
            assertThat(rs.getLong(1)).as("acme's rows").isZero();
            assertThat(rs.getLong(2)).as("acme's vector key").isZero();
            assertThat(rs.getLong(3)).as("globex's vector key").isEqualTo(1);
        }
    }

    @Test
    void rotation_rewrapsTheVectorKey_once_andSearchStillOpensIt() throws Exception {
        List<float[]> vectors = clustered(new Random(9), 20);
        String kek = sealed.keyring.naming().kekNameFor("acme");
        try (PostgresVectorStore blind = open(table, "blind")) {
            sink(blind, "acme", vectors);
            int version = sealed.kms.rotate(kek).version();
            blind.tenantChanged(
                    new TenantState("acme", TenantStatus.ACTIVE, "local", kek, version, "ROTATED", Instant.now()),
                    true);
            try (Connection c = db.connect();
                    Statement s = c.createStatement();
                    ResultSet rs =
                            s.executeQuery("SELECT kek_ref FROM " + table + "_vector_keys WHERE tenant = 'acme'")) {
                rs.next();
                assertThat(rs.getString(1)).endsWith(":" + version);
            }
        }
        try (Connection c = db.connect();
                VectorKeys keys = searchKeys(c, table)) {
            assertThat(PostgresBlindSearch.search(
                                    c,
                                    table,
                                    "acme",
                                    sealed.unsealer,
                                    keys,
                                    vectors.get(3),
                                    1,
                                    10,
                                    VectorSimilarityFunction.COSINE,
                                    true)
                            .hits())
                    .extracting(SearchHit::embeddingId)
                    .containsExactly("e-3");
        }
    }

    /** A table index mode filled keeps its plaintext vectors under blind mode: refused until they are cleared. */
    @Test
    void blindMode_onATableWithIndexModesPlaintext_refusesToStart() throws Exception {
        try (PostgresVectorStore index = open(table, "index")) {
            sink(index, "acme", clustered(new Random(10), 5));
        }
        assertThatThrownBy(() -> open(table, "blind"))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining(PostgresSinkConfig.MODE + "=blind")
                .hasMessageContaining("plaintext vectors");
        try (Connection c = db.connect();
                Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE " + table + " SET embedding = NULL, model = NULL");
        }
        try (PostgresVectorStore blind = open(table, "blind")) {
            assertThat(blind.blindMode()).isTrue();
        }
    }

    @Test
    void settings_thatCannotWork_areRefused_namingTheSetting() {
        Map<String, String> s = settings(table, "blind");
        s.put(PostgresSinkConfig.VECTOR_SIMILARITY, "dot_product");
        assertThatThrownBy(() -> new PostgresSinkConfig(s)).hasMessageContaining(PostgresSinkConfig.VECTOR_SIMILARITY);
        Map<String, String> noDims = settings(table, "blind");
        noDims.remove(PostgresSinkConfig.VECTOR_DIMENSIONS);
        assertThatThrownBy(() -> new PostgresSinkConfig(noDims))
                .hasMessageContaining(PostgresSinkConfig.VECTOR_DIMENSIONS);
        assertThatThrownBy(() ->
                        PostgresVectorStore.open(new PostgresSinkConfig(settings(table, "blind")), "t", 0, null, null))
                .hasMessageContaining("KMS");
    }

    TenantState state(String tenant, TenantStatus status) {
        return new TenantState(
                tenant, status, "local", sealed.keyring.naming().kekNameFor(tenant), 1, status.name(), Instant.now());
    }
}
