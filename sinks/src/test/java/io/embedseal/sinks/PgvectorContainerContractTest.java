package io.embedseal.sinks;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The store contract in index mode against PostgreSQL 16 with pgvector in a container: the server users run, beside
 * {@link PgvectorPgliteContractTest}'s WebAssembly build. Skipped without Docker, saying so.
 */
@DisplayName("VectorStore contract: PostgreSQL 16 + pgvector, index mode (Testcontainers)")
class PgvectorContainerContractTest extends PgvectorContract {

    static final String IMAGE = "pgvector/pgvector:0.8.0-pg16";
    static PostgreSQLContainer db;

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
                        + "The same contract runs against pgvector in PGlite (PgvectorPgliteContractTest).");
        db = new PostgreSQLContainer(DockerImageName.parse(IMAGE).asCompatibleSubstituteFor("postgres"));
        db.start();
    }

    @AfterAll
    static void stopContainer() {
        if (db != null) {
            db.stop();
        }
    }

    @Override
    String url() {
        return db.getJdbcUrl();
    }

    @Override
    String user() {
        return db.getUsername();
    }

    @Override
    String password() {
        return db.getPassword();
    }
}
