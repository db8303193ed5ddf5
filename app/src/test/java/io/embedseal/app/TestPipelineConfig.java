package io.embedseal.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The configuration file a test pipeline runs on: its topics, application id and registry named after a prefix, so
 * tests sharing one broker do not meet; the local KMS and the state under the test's directory.
 */
public final class TestPipelineConfig {

    private TestPipelineConfig() {}

    /**
     * Writes {@code dir/embedseal.properties}.
     *
     * @param extra further {@code key=value} lines
     */
    public static Path write(Path dir, String bootstrapServers, String prefix, String... extra) throws IOException {
        List<String> lines = new ArrayList<>(List.of(
                "bootstrap.servers=" + bootstrapServers,
                "application.id=" + prefix + "app",
                "state.dir=" + dir.resolve("state"),
                "topics.raw=" + prefix + "raw",
                "topics.sealed=" + prefix + "sealed",
                "topics.dlq=" + prefix + "dlq",
                "topics.key-events=" + prefix + "events",
                "topics.audit=" + prefix + "audit",
                "topics.create=true",
                "topics.partitions=2",
                "schema.registry.url=mock://" + prefix,
                "kms.provider=local",
                "kms.local.dir=" + TestSigning.installInto(dir.resolve("kms"))));
        lines.addAll(List.of(extra));
        lines.add("");
        Path file = dir.resolve("embedseal.properties");
        Files.writeString(file, String.join("\n", lines));
        return file;
    }
}
