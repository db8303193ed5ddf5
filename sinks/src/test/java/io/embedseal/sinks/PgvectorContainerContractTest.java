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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The store contract in index mode, against PostgreSQL with pgvector in a container (pgvector is not packaged for
 * this Debian release, so the embedded runs use sealed mode). Skipped without Docker, saying so.
 */
@DisplayName("VectorStore contract: PostgreSQL + pgvector, index mode (Testcontainers)")
class PgvectorContainerContractTest extends VectorStoreContract {

    static final String IMAGE = "pgvector/pgvector:0.8.0-pg16";
    static PostgreSQLContainer db;
    final String table = PostgresTestDatabase.freshTable("pgvector");

    @BeforeAll
    static void startContainer() {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        Assumptions.assumeTrue(
                docker,
                "needs a Docker engine to run " + IMAGE + " (Testcontainers); none here, skipped. "
                        + "The same contract ran against the real PostgreSQL 15 in sealed mode.");
        db = new PostgreSQLContainer(DockerImageName.parse(IMAGE).asCompatibleSubstituteFor("postgres"));
        db.start();
    }

    @AfterAll
    static void stopContainer() {
        if (db != null) {
            db.stop();
        }
    }

    Map<String, String> settings() {
        Map<String, String> s = PostgresVectorStoreContractTest.settings(table, "index");
        s.put(PostgresSinkConfig.URL, db.getJdbcUrl());
        s.put(PostgresSinkConfig.USER, db.getUsername());
        s.put(PostgresSinkConfig.PASSWORD, db.getPassword());
        s.put(PostgresSinkConfig.VECTOR_DIMENSIONS, "8");
        return s;
    }

    @Override
    VectorStore open(Path dir) {
        PostgresVectorStore store = PostgresVectorStore.open(new PostgresSinkConfig(settings()), "pgvector-test", 0);
        assertThat(store.indexMode()).isTrue();
        return store;
    }

    Connection connect() throws SQLException {
        return DriverManager.getConnection(db.getJdbcUrl(), db.getUsername(), db.getPassword());
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
        return PostgresVectorStore.open(new PostgresSinkConfig(settings()), "pgvector-test", 0, false);
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
