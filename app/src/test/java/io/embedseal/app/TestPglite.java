package io.embedseal.app;

import io.embedseal.testkit.PgliteServer;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** The test JVM's PGlite server (real pgvector), or the calling test skipped (failed with EMBEDSEAL_REQUIRE_PGLITE=1). */
public final class TestPglite {

    private TestPglite() {}

    public static PgliteServer server() {
        return PgliteServer.shared().orElseGet(() -> {
            String why = PgliteServer.unavailableBecause().orElse("PGlite did not start");
            if (PgliteServer.required()) {
                Assertions.fail(why + "; " + PgliteServer.REQUIRE_ENV + "=1 makes this a failure");
            }
            Assumptions.abort(why);
            throw new AssertionError("unreachable");
        });
    }
}
