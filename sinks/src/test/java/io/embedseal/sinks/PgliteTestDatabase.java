package io.embedseal.sinks;

import io.embedseal.testkit.PgliteServer;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** {@link PgliteServer} for these tests: skipped with its message where it cannot run, failed in CI. */
final class PgliteTestDatabase {

    private PgliteTestDatabase() {}

    /** The test JVM's PGlite server, or skips (fails with {@code EMBEDSEAL_REQUIRE_PGLITE=1}) the calling test. */
    static PgliteServer server() {
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
