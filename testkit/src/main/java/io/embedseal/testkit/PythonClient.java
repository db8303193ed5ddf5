package io.embedseal.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The Python client's side of the cross-language tests: {@code clients/python/tests/crosslang.py} run by the Python of
 * the virtualenv the build makes ({@code clients/python/target/venv}, by the {@code clients/python} module, which the
 * reactor builds before the Java modules that use this). With {@code EMBEDSEAL_REQUIRE_PYTHON=1} (CI) a missing venv
 * fails the test instead of skipping it.
 */
public final class PythonClient {

    public static final String REQUIRE_ENV = "EMBEDSEAL_REQUIRE_PYTHON";

    private PythonClient() {}

    /** The client's directory, from any module of the checkout. */
    public static Path home() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            Path candidate = p.resolve("clients").resolve("python");
            if (Files.isRegularFile(candidate.resolve("tests").resolve("crosslang.py"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("clients/python is not above " + dir);
    }

    public static Path python() {
        return home().resolve("target").resolve("venv").resolve("bin").resolve("python");
    }

    /** Why the Python client cannot run here, or empty when it can. */
    public static Optional<String> unavailableBecause() {
        if (Files.isExecutable(python())) {
            return Optional.empty();
        }
        String why = "needs the Python client's virtualenv " + python()
                + " (made by the build: ./mvnw -pl clients/python verify, which needs CPython 3.11 to 3.13)";
        if ("1".equals(System.getenv(REQUIRE_ENV))) {
            throw new IllegalStateException(REQUIRE_ENV + "=1 but the Python client cannot run: " + why);
        }
        return Optional.of(why);
    }

    /**
     * Runs {@code crosslang.py} with these arguments and returns its standard output's lines.
     *
     * @throws AssertionError if it does not exit 0 within two minutes (its standard error is in the message)
     */
    public static List<String> run(String... args) {
        List<String> command = new ArrayList<>(List.of(
                python().toString(),
                home().resolve("tests").resolve("crosslang.py").toString()));
        command.addAll(List.of(args));
        try {
            Path err = Files.createTempFile("crosslang", ".err");
            Process p = new ProcessBuilder(command)
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.PIPE)
                    .start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(2, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("crosslang.py " + String.join(" ", args) + " did not end in 2 minutes");
            }
            String stderr = Files.readString(err);
            Files.deleteIfExists(err);
            if (p.exitValue() != 0) {
                throw new AssertionError("crosslang.py " + args[0] + " exited " + p.exitValue() + ":\n" + stderr);
            }
            return new String(out, StandardCharsets.UTF_8).lines().toList();
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** {@code doc-i}'s vector, as crosslang.py computes it: {@code float32(((i * 31 + j * 7) % 97) / 97 - 0.5)}. */
    public static float[] vector(int i, int dims) {
        float[] v = new float[dims];
        for (int j = 0; j < dims; j++) {
            v[j] = (float) (((i * 31 + j * 7) % 97) / 97.0 - 0.5);
        }
        return v;
    }
}
