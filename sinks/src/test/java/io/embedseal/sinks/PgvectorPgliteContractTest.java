package io.embedseal.sinks;

import io.embedseal.testkit.PgliteServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;

/**
 * The store contract in index mode against real pgvector (0.8) in PGlite, PostgreSQL compiled to WebAssembly and
 * served over the wire protocol: runs on every machine with Node.js ({@code npm ci --prefix testkit/pglite}); CI
 * fails rather than skips it.
 */
@DisplayName("VectorStore contract: pgvector in PGlite, index mode")
class PgvectorPgliteContractTest extends PgvectorContract {

    static PgliteServer db;

    @BeforeAll
    static void startServer() {
        db = PgliteTestDatabase.server();
    }

    @Override
    String url() {
        return db.url();
    }

    @Override
    String user() {
        return PgliteServer.USER;
    }

    @Override
    String password() {
        return PgliteServer.PASSWORD;
    }
}
