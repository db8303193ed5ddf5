package io.embedseal.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.testkit.KafkaCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * docs/operations.md's "Running on a cluster" gives an operator exactly the settings the cluster tests run: every
 * setting in {@link KafkaCluster#BROKER_SETTINGS}, {@link ClusterFaultTest#PIPELINE_SETTINGS} and {@link
 * ClusterFaultTest#CONNECT_SETTINGS} appears in its
 * tables with the same value, and the tables name no setting the tests do not run.
 */
class ClusterSettingsDocumentedTest {

    private static final Pattern ROW = Pattern.compile("^\\| `([a-z0-9._\\-]+)` \\| `([^`]*)` \\|", Pattern.MULTILINE);

    @Test
    void theRunbookGivesTheSettingsTheClusterTestsRun() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "operations.md"), StandardCharsets.UTF_8);
        int start = doc.indexOf("## Running on a cluster");
        assertThat(start)
                .as("docs/operations.md has a section 'Running on a cluster'")
                .isNotNegative();
        int end = doc.indexOf("\n## ", start + 1);
        String section = doc.substring(start, end < 0 ? doc.length() : end);
        Map<String, String> documented = new LinkedHashMap<>();
        Matcher m = ROW.matcher(section);
        while (m.find()) {
            documented.put(m.group(1), m.group(2));
        }
        Map<String, String> run = new LinkedHashMap<>(KafkaCluster.BROKER_SETTINGS);
        run.putAll(ClusterFaultTest.PIPELINE_SETTINGS);
        run.putAll(ClusterFaultTest.CONNECT_SETTINGS);
        assertThat(documented).isEqualTo(run);
    }
}
