package io.embedseal.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Item 6, run last: every log line the suite produced, in this JVM and in the pipeline processes it started
 * ({@link Suite#LOGS}), is scanned for the keys the tests used (KEKs, DEKs recovered from sealed records), the Vault
 * tokens, and the plaintext vectors: zero hits. A canary secret logged on purpose in three encodings must be found,
 * so the scan cannot pass by reading nothing.
 */
@Tag("reliability")
@Order(Integer.MAX_VALUE)
class LogLeakScanTest {

    private static final Logger LOG = LoggerFactory.getLogger(LogLeakScanTest.class);

    @Test
    void noKeyTokenOrPlaintextVector_inAnyLogOfTheSuite() throws Exception {
        assertThat(Suite.SECRETS.size())
                .as("secrets collected by the suite's other tests (run the whole suite: the scan"
                        + " needs what they used)")
                .isGreaterThanOrEqualTo(10);
        assertThat(Suite.VECTORS.vectorCount())
                .as("plaintext vectors collected by the suite's other tests")
                .isPositive();

        byte[] canary = new byte[32];
        new SecureRandom().nextBytes(canary);
        LOG.info(
                "leak-scan canary, logged on purpose: hex {} base64 {} and in a longer base64 string {}",
                HexFormat.of().formatHex(canary),
                Base64.getEncoder().encodeToString(canary),
                Base64.getEncoder().encodeToString(concat(new byte[] {7}, canary)));

        SecretScanner scanner = new SecretScanner();
        for (Suite.Secret s : Suite.SECRETS) {
            scanner.add(s.label(), s.bytes());
        }
        scanner.add("canary", canary);

        List<Path> files;
        try (Stream<Path> list = Files.list(Suite.LOGS)) {
            files = list.filter(
                            f -> f.toString().endsWith(".log") || f.toString().endsWith(".out"))
                    .sorted()
                    .toList();
        }
        assertThat(files).as("log files under " + Suite.LOGS).isNotEmpty();
        long bytes = 0;
        long lines = 0;
        java.util.Set<String> leaks = new java.util.LinkedHashSet<>();
        int canaryHits = 0;
        for (Path f : files) {
            byte[] data = Files.readAllBytes(f);
            bytes += data.length;
            for (byte b : data) {
                lines += b == '\n' ? 1 : 0;
            }
            for (SecretScanner.Hit hit : scanner.scan(data)) {
                if (hit.label().equals("canary")) {
                    canaryHits++;
                } else {
                    leaks.add(f.getFileName() + ": " + hit.label() + " as " + hit.form());
                }
            }
            long vectorWindows = Suite.VECTORS.scan(data);
            if (vectorWindows > 0) {
                leaks.add(f.getFileName() + ": " + vectorWindows + " windows of plaintext vector bytes");
            }
        }
        System.out.printf(
                "leak scan: %d files, %,d bytes, %,d lines; %d secrets (%s) and %d plaintext vectors looked for;"
                        + " canary found %d times; leaks: %s%n",
                files.size(),
                bytes,
                lines,
                Suite.SECRETS.size(),
                kinds(),
                Suite.VECTORS.vectorCount(),
                canaryHits,
                leaks.isEmpty() ? "none" : leaks);
        assertThat(canaryHits)
                .as("the canary logged in hex, base64 and inside a longer base64 string is found")
                .isGreaterThanOrEqualTo(3);
        assertThat(leaks).as("secrets or plaintext in the logs").isEmpty();
    }

    private static String kinds() {
        long deks =
                Suite.SECRETS.stream().filter(s -> s.label().startsWith("DEK")).count();
        long keks =
                Suite.SECRETS.stream().filter(s -> s.label().startsWith("KEK")).count();
        return deks + " DEKs, " + keks + " KEKs, " + (Suite.SECRETS.size() - deks - keks) + " tokens";
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
