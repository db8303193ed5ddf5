package io.embedseal.app.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.app.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A small run of {@code embedseal bench} end to end: both topologies really move every record, the figures are
 * there and sane, and the sealing instance makes exactly one KMS call per tenant (no DEK rollover at this size).
 * Its speed is not judged here: that is for the bench itself, on a quiet machine.
 */
class BenchCommandTest {

    @Test
    void aSmallRun_measuresBothTopologies_withOneKmsCallPerTenant(@TempDir Path dir) throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine c = Main.commandLine();
        c.setOut(new PrintWriter(out, true));
        c.setErr(new PrintWriter(err, true));

        int code = c.execute("bench", "--json", "--records", "300", "--dims", "16", "--tenants", "3", "--partitions", "2",
                "--runs", "1", "--warmup-runs", "0", "--latency-records", "100", "--latency-rate", "1000",
                "--data-dir", dir.toString());

        assertThat(code).as(err.toString()).isZero();
        JsonNode r = new ObjectMapper().readTree(out.toString()).get("results").get(0);
        assertThat(r.get("dims").asInt()).isEqualTo(16);
        assertThat(r.get("runs")).hasSize(2);
        for (JsonNode run : r.get("runs")) {
            assertThat(run.get("records").asLong()).isEqualTo(300);
            assertThat(run.get("recordsPerSecond").asDouble()).isPositive();
            assertThat(run.get("cpuMicrosPerRecord").asDouble()).isPositive();
            assertThat(run.get("topologyCpuMicrosPerRecord").asDouble()).isPositive();
            assertThat(run.get("topologyAllocatedBytesPerRecord").asLong()).isPositive();
            assertThat(run.get("p99Millis").asDouble()).isGreaterThanOrEqualTo(run.get("p50Millis").asDouble()).isNotNegative();
            assertThat(run.get("kmsCalls").asLong()).isEqualTo(run.get("topology").asText().equals("sealed") ? 3 : 0);
        }
        assertThat(r.get("ratio").asDouble()).isPositive();
        assertThat(r.get("kmsCallsPerSealedRun").asLong()).isEqualTo(r.get("kmsBound").asLong()).isEqualTo(3);
    }

    @Test
    void anUnknownTopology_isRefusedWithTheChoices() {
        StringWriter err = new StringWriter();
        CommandLine c = Main.commandLine();
        c.setErr(new PrintWriter(err, true));

        assertThat(c.execute("bench", "--topologies", "sealed,plaintext")).isEqualTo(2);
        assertThat(err.toString()).contains("--topologies takes pass-through, sealed");
    }
}
