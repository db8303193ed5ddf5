package io.embedseal.app.metrics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's {@code prometheus} package ({@code /usr/bin/prometheus}, {@code /usr/bin/promtool}) for the tests that
 * run the real thing. Where it is missing the tests skip, saying which package to install, unless
 * {@code EMBEDSEAL_REQUIRE_PROMETHEUS=1} (set by .ci/run, which installs it): then they fail.
 */
final class PrometheusTools {

    static final Path ROOT =
            Path.of(System.getProperty("embedseal.root", "..")).toAbsolutePath().normalize();
    static final Path DASHBOARDS = ROOT.resolve("dashboards");

    private PrometheusTools() {}

    static Path prometheus() {
        return require("prometheus");
    }

    static Path promtool() {
        return require("promtool");
    }

    private static Path require(String binary) {
        Path p = Path.of("/usr/bin", binary);
        if (!Files.isExecutable(p)) {
            String why =
                    "needs Debian's prometheus package (" + p + "): apt-get install prometheus; .ci/run installs it";
            if ("1".equals(System.getenv("EMBEDSEAL_REQUIRE_PROMETHEUS"))) {
                Assertions.fail(why);
            }
            Assumptions.abort(why);
        }
        return p;
    }

    /** What a finished command printed (stdout and stderr together) and its exit code. */
    record Result(int code, String output) {}

    /** Runs a command in the repository root, bounded by {@code timeoutSeconds}. */
    static Result run(long timeoutSeconds, String... command) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(command));
        Process p = new ProcessBuilder(cmd)
                .directory(ROOT.toFile())
                .redirectErrorStream(true)
                .start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish within " + timeoutSeconds + " s");
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
