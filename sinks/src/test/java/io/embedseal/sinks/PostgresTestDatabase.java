package io.embedseal.sinks;

import io.embedseal.testkit.PostgresServer;
import java.sql.Connection;
import java.sql.SQLException;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** {@link PostgresServer} for these tests: skipped with its message where none answers, failed in CI. */
public final class PostgresTestDatabase {

    public static final String URL = PostgresServer.URL;
    public static final String USER = PostgresServer.USER;
    public static final String PASSWORD = PostgresServer.PASSWORD;

    private PostgresTestDatabase() {}

    /** Skips (or, with {@code EMBEDSEAL_REQUIRE_POSTGRES=1}, fails) the calling test when the server does not answer. */
    public static void assumeAvailable() {
        PostgresServer.unavailableBecause().ifPresent(why -> {
            if (PostgresServer.required()) {
                Assertions.fail(why + "; EMBEDSEAL_REQUIRE_POSTGRES=1 makes this a failure");
            }
            Assumptions.abort(why);
        });
    }

    public static Connection connect() throws SQLException {
        return PostgresServer.connect();
    }

    public static String freshTable(String prefix) {
        return PostgresServer.freshTable(prefix);
    }
}
