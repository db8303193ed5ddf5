package io.embedseal.testkit;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * The real PostgreSQL server tests use: {@code EMBEDSEAL_PG_URL} (default
 * {@code jdbc:postgresql://127.0.0.1:5432/embedseal_test}), user {@code EMBEDSEAL_PG_USER} (embedseal), password
 * {@code EMBEDSEAL_PG_PASSWORD} (embedseal). {@code .ci/run} starts Debian's PostgreSQL 15 and creates both, and sets
 * {@code EMBEDSEAL_REQUIRE_POSTGRES=1} so that tests fail rather than skip when it does not answer.
 * Needs the PostgreSQL JDBC driver on the class path of the caller.
 */
public final class PostgresServer {

    public static final String URL = env("EMBEDSEAL_PG_URL", "jdbc:postgresql://127.0.0.1:5432/embedseal_test");
    public static final String USER = env("EMBEDSEAL_PG_USER", "embedseal");
    public static final String PASSWORD = env("EMBEDSEAL_PG_PASSWORD", "embedseal");

    private static volatile @Nullable Optional<String> unavailable;

    private PostgresServer() {}

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    /** Why the server cannot be used here (checked once per JVM), or empty if it answers. */
    public static Optional<String> unavailableBecause() {
        Optional<String> u = unavailable;
        if (u == null) {
            try (Connection c = connect()) {
                c.isValid(5);
                u = Optional.empty();
            } catch (SQLException e) {
                u = Optional.of("needs a PostgreSQL server at " + URL + " (user " + USER + "); .ci/run starts Debian's "
                        + "PostgreSQL 15 with pg_ctlcluster 15 main start and creates the user and database. Here: "
                        + e.getMessage());
            }
            unavailable = u;
        }
        return u;
    }

    /** Whether a test must fail, not skip, when the server is unavailable. */
    public static boolean required() {
        return "1".equals(System.getenv("EMBEDSEAL_REQUIRE_POSTGRES"));
    }

    public static Connection connect() throws SQLException {
        return DriverManager.getConnection(URL, USER, PASSWORD);
    }

    /** A table name no other test uses. */
    public static String freshTable(String prefix) {
        return (prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10)).toLowerCase(Locale.ROOT);
    }
}
