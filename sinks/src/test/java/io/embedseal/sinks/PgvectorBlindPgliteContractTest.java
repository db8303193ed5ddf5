package io.embedseal.sinks;

import org.junit.jupiter.api.DisplayName;

/** The store contract in blind mode (DCPE ciphertexts in pgvector, vector keys wrapped by the tenants' KEKs), on PGlite. */
@DisplayName("VectorStore contract: pgvector in PGlite, blind mode")
class PgvectorBlindPgliteContractTest extends PgvectorPgliteContractTest {

    @Override
    String mode() {
        return "blind";
    }
}
