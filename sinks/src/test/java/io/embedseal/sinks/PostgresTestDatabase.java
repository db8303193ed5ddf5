package io.embedseal.sinks;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Locale;
import java.util.UUID;

/**
 * The real PostgreSQL server the tests use: {@code EMBEDSEAL_PG_URL} (default
 * {@code jdbc:postgresql://127.0.0.1:5432/embedseal_test}), user {@code EMBEDSEAL_PG_USER} (embedseal), password
 * {@code EMBEDSEAL_PG_PASSWORD} (embedseal). {@code .ci/run} starts Debian's PostgreSQL 15 and creates both. Where
 * none answers, tests are skipped with that message, unless {@code EMBEDSEAL_REQUIRE_POSTGRES=1} makes them fail.
 */
public final class PostgresTestDatabase {

    public static final String URL = env("EMBEDSEAL_PG_URL", "jdbc:postgresql://127.0.0.1:5432/embedseal_test");
    public static final String USER = env("EMBEDSEAL_PG_USER", "embedseal");
    public static final String PASSWORD = env("EMBEDSEAL_PG_PASSWORD", "embedseal");

    private static volatile String unavailable;
    private static volatile boolean checked;

    private PostgresTestDatabase() {
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    /** Skips (or, in CI, fails) the calling test when the server does not answer. */
    public static void assumeAvailable() {
        if (!checked) {
            try (Connection c = connect()) {
                c.isValid(5);
                unavailable = null;
            } catch (SQLException e) {
                unavailable = e.getMessage();
            }
            checked = true;
        }
        if (unavailable != null) {
            String message = "needs a PostgreSQL server at " + URL + " (user " + USER + "); .ci/run starts Debian's "
                    + "PostgreSQL 15 with pg_ctlcluster 15 main start and creates the user and database. Here: " + unavailable;
            if ("1".equals(System.getenv("EMBEDSEAL_REQUIRE_POSTGRES"))) {
                Assertions.fail(message);
            }
            Assumptions.abort(message);
        }
    }

    public static Connection connect() throws SQLException {
        return DriverManager.getConnection(URL, USER, PASSWORD);
    }

    /** A table name no other test uses. */
    public static String freshTable(String prefix) {
        return (prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10)).toLowerCase(Locale.ROOT);
    }
}
