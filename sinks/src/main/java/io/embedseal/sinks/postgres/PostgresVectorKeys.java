package io.embedseal.sinks.postgres;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.sinks.StoreException;
import io.embedseal.sinks.blind.VectorKeyStorage;
import io.embedseal.sinks.blind.WrappedVectorKey;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * Blind mode's wrapped vector keys in {@code <table>_vector_keys}, one row per tenant:
 * <pre>
 *   tenant text PRIMARY KEY, key_id bytea, beta float8, kek_ref text, wrapped bytea, created_at timestamptz
 * </pre>
 * The database holds each key only wrapped by the tenant's KEK. Each call is its own transaction on the connection it
 * is given (committed unless the connection commits by itself).
 */
public final class PostgresVectorKeys implements VectorKeyStorage {

    public interface Connections {
        Connection get() throws SQLException;
    }

    private final Connections connections;
    private final String keys;

    public PostgresVectorKeys(Connections connections, String table) {
        if (!PostgresSinkConfig.TABLE_NAME.matcher(table).matches()) {
            throw new IllegalArgumentException("table name '" + table + "' is not lower-case letters, digits and _");
        }
        this.connections = connections;
        this.keys = table + "_vector_keys";
    }

    /** The table's name. */
    public String table() {
        return keys;
    }

    static void create(Statement s, String table) throws SQLException {
        s.execute(
                "CREATE TABLE IF NOT EXISTS " + table + "_vector_keys (tenant text PRIMARY KEY, key_id bytea NOT NULL, "
                        + "beta double precision NOT NULL, kek_ref text NOT NULL, wrapped bytea NOT NULL, "
                        + "created_at timestamptz NOT NULL DEFAULT now())");
    }

    @Override
    public Optional<WrappedVectorKey> read(String tenant) {
        try {
            Connection c = connections.get();
            try {
                Optional<WrappedVectorKey> out = read(c, tenant);
                commit(c);
                return out;
            } catch (SQLException e) {
                rollback(c);
                throw e;
            }
        } catch (SQLException e) {
            throw failure("reading tenant " + tenant + "'s vector key", e);
        }
    }

    private Optional<WrappedVectorKey> read(Connection c, String tenant) throws SQLException {
        try (PreparedStatement ps =
                c.prepareStatement("SELECT key_id, beta, kek_ref, wrapped FROM " + keys + " WHERE tenant = ?")) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                try {
                    return Optional.of(new WrappedVectorKey(
                            tenant, rs.getBytes(1), rs.getDouble(2), KekRef.parse(rs.getString(3)), rs.getBytes(4)));
                } catch (IllegalArgumentException | NullPointerException e) {
                    throw new io.embedseal.keyring.kms.InvalidWrappedKeyException(
                            "tenant " + tenant + "'s vector key row in " + keys + " is malformed: " + e.getMessage());
                }
            }
        }
    }

    @Override
    public WrappedVectorKey putIfAbsent(WrappedVectorKey key) {
        try {
            Connection c = connections.get();
            try {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + keys
                        + " (tenant, key_id, beta, kek_ref, wrapped) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant) "
                        + "DO NOTHING")) {
                    ps.setString(1, key.tenant());
                    ps.setBytes(2, key.id());
                    ps.setDouble(3, key.beta());
                    ps.setString(4, key.kek().toString());
                    ps.setBytes(5, key.wrapped());
                    ps.executeUpdate();
                }
                WrappedVectorKey kept = read(c, key.tenant())
                        .orElseThrow(() -> new SQLException("the vector key row vanished", "40001"));
                commit(c);
                return kept;
            } catch (SQLException | RuntimeException e) {
                rollback(c);
                throw e;
            }
        } catch (SQLException e) {
            throw failure("storing tenant " + key.tenant() + "'s vector key", e);
        }
    }

    @Override
    public boolean replace(WrappedVectorKey old, WrappedVectorKey rewrapped) {
        try {
            Connection c = connections.get();
            try {
                int n;
                try (PreparedStatement ps = c.prepareStatement("UPDATE " + keys + " SET kek_ref = ?, wrapped = ? "
                        + "WHERE tenant = ? AND key_id = ? AND kek_ref = ? AND wrapped = ?")) {
                    ps.setString(1, rewrapped.kek().toString());
                    ps.setBytes(2, rewrapped.wrapped());
                    ps.setString(3, old.tenant());
                    ps.setBytes(4, old.id());
                    ps.setString(5, old.kek().toString());
                    ps.setBytes(6, old.wrapped());
                    n = ps.executeUpdate();
                }
                commit(c);
                return n == 1;
            } catch (SQLException e) {
                rollback(c);
                throw e;
            }
        } catch (SQLException e) {
            throw failure("re-wrapping tenant " + old.tenant() + "'s vector key", e);
        }
    }

    private static void commit(Connection c) throws SQLException {
        if (!c.getAutoCommit()) {
            c.commit();
        }
    }

    private static void rollback(Connection c) {
        try {
            if (!c.getAutoCommit()) {
                c.rollback();
            }
        } catch (SQLException ignored) {
            // the connection is replaced on its next use if it is broken
        }
    }

    private StoreException failure(String what, SQLException e) {
        String state = e.getSQLState() == null ? "?" : e.getSQLState();
        boolean retriable =
                state.startsWith("08") || state.startsWith("40") || state.startsWith("57P") || state.startsWith("53");
        return new StoreException(
                "PostgreSQL failed " + what + " in " + keys + " (SQLState " + state + ")", e, retriable);
    }
}
