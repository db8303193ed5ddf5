package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The store contract in index mode against a PostgreSQL with pgvector: PGlite on every machine
 * ({@link PgvectorPgliteContractTest}), a pgvector container where Docker runs ({@link PgvectorContainerContractTest}).
 */
abstract class PgvectorContract extends VectorStoreContract {

    final String table = PostgresTestDatabase.freshTable("pgvector");

    abstract String url();

    abstract String user();

    abstract String password();

    /** The mode under test: index (plaintext vectors in pgvector) or blind (DCPE ciphertexts). */
    String mode() {
        return "index";
    }

    Map<String, String> settings() {
        Map<String, String> s = PostgresVectorStoreContractTest.settings(table, mode());
        s.put(PostgresSinkConfig.URL, url());
        s.put(PostgresSinkConfig.USER, user());
        s.put(PostgresSinkConfig.PASSWORD, password());
        s.put(PostgresSinkConfig.VECTOR_DIMENSIONS, "8");
        return s;
    }

    @Override
    VectorStore open(Path dir) {
        PostgresVectorStore store = PostgresVectorStore.open(
                new PostgresSinkConfig(settings()), getClass().getSimpleName(), 0, sealed.kms, sealed.keyring.naming());
        assertThat(mode().equals("blind") ? store.blindMode() : store.indexMode())
                .isTrue();
        return store;
    }

    Connection connect() throws SQLException {
        return DriverManager.getConnection(url(), user(), password());
    }

    @Override
    Set<String> storedIds(String tenant) {
        Set<String> ids = new HashSet<>();
        try (Connection c = connect();
                PreparedStatement ps =
                        c.prepareStatement("SELECT embedding_id FROM " + table + " WHERE tenant = ? AND NOT deleted")) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return ids;
    }

    @Override
    long storedCount(String tenant) {
        return storedIds(tenant).size();
    }

    @Override
    VectorStore openWithoutVersionCheck(Path dir) {
        return PostgresVectorStore.open(
                new PostgresSinkConfig(settings()),
                getClass().getSimpleName(),
                0,
                false,
                sealed.kms,
                sealed.keyring.naming());
    }

    @Override
    java.util.Map<String, io.embedseal.serdes.envelope.RecordVersion> storedVersions(String tenant) {
        java.util.Map<String, io.embedseal.serdes.envelope.RecordVersion> out = new java.util.HashMap<>();
        try (Connection c = connect();
                PreparedStatement ps = c.prepareStatement(
                        "SELECT embedding_id, record_version FROM " + table + " WHERE tenant = ? AND NOT deleted")) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), io.embedseal.serdes.envelope.RecordVersion.read(rs.getBytes(2), 0));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    @Test
    void indexMode_writesTheVector_andPgvectorFindsTheNearest() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(mode().equals("index"), "index mode only");
        Random r = new Random(9);
        float[] target = Sealed.randomVector(r, 8);
        store.upsert(sealed.stored("acme", "target", target, true, 1));
        for (int i = 0; i < 50; i++) {
            store.upsert(sealed.stored("acme", "other-" + i, Sealed.randomVector(r, 8), true, i + 2));
        }
        store.flush();
        try (Connection c = connect();
                PreparedStatement ps = c.prepareStatement("SELECT embedding_id FROM " + table
                        + " WHERE tenant = ? ORDER BY embedding <=> ?::vector LIMIT 1")) {
            ps.setString(1, "acme");
            StringBuilder v = new StringBuilder("[");
            for (int i = 0; i < target.length; i++) {
                v.append(i == 0 ? "" : ",").append(target[i]);
            }
            ps.setString(2, v.append(']').toString());
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("target");
            }
        }
    }
}
