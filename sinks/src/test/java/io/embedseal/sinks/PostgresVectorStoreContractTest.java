package io.embedseal.sinks;

import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;

@DisplayName("VectorStore contract: PostgreSQL, sealed mode (real server)")
class PostgresVectorStoreContractTest extends VectorStoreContract {

    final String table = PostgresTestDatabase.freshTable("contract");

    @BeforeAll
    static void needsPostgres() {
        PostgresTestDatabase.assumeAvailable();
    }

    static Map<String, String> settings(String table, String mode) {
        Map<String, String> s = new HashMap<>();
        s.put("name", "pg-test");
        s.put("embedseal.bootstrap.servers", "127.0.0.1:9");
        s.put(PostgresSinkConfig.URL, PostgresTestDatabase.URL);
        s.put(PostgresSinkConfig.USER, PostgresTestDatabase.USER);
        s.put(PostgresSinkConfig.PASSWORD, PostgresTestDatabase.PASSWORD);
        s.put(PostgresSinkConfig.TABLE, table);
        s.put(PostgresSinkConfig.MODE, mode);
        return s;
    }

    @Override
    VectorStore open(Path dir) {
        return PostgresVectorStore.open(new PostgresSinkConfig(settings(table, "sealed")), "pg-test", 0);
    }

    @Override
    Set<String> storedIds(String tenant) {
        Set<String> ids = new HashSet<>();
        query(
                "SELECT embedding_id FROM " + table + " WHERE tenant = ? AND NOT deleted",
                tenant,
                rs -> ids.add(rs.getString(1)));
        return ids;
    }

    @Override
    long storedCount(String tenant) {
        long[] n = {0};
        query(
                "SELECT count(*) FROM " + table + " WHERE tenant = ? AND NOT deleted",
                tenant,
                rs -> n[0] = rs.getLong(1));
        return n[0];
    }

    @Override
    VectorStore openWithoutVersionCheck(Path dir) {
        return PostgresVectorStore.open(new PostgresSinkConfig(settings(table, "sealed")), "pg-test", 0, false);
    }

    @Override
    Map<String, io.embedseal.serdes.envelope.RecordVersion> storedVersions(String tenant) {
        Map<String, io.embedseal.serdes.envelope.RecordVersion> out = new HashMap<>();
        query(
                "SELECT embedding_id, record_version FROM " + table + " WHERE tenant = ? AND NOT deleted",
                tenant,
                rs -> out.put(rs.getString(1), io.embedseal.serdes.envelope.RecordVersion.read(rs.getBytes(2), 0)));
        return out;
    }

    interface Row {
        void accept(ResultSet rs) throws SQLException;
    }

    void query(String sql, String tenant, Row row) {
        try (Connection c = PostgresTestDatabase.connect();
                PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    row.accept(rs);
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
