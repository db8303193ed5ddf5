package io.embedseal.demo.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.app.CliRun;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small run of {@code embedseal bench} end to end: the three topologies really move every record, the figures are
 * there and sane, and the sealing instance makes exactly one KMS call per tenant (no DEK rollover at this size).
 * Its speed is not judged here: that is for the bench itself, on a quiet machine.
 */
class BenchCommandTest {

    @Test
    void aSmallRun_measuresBothTopologies_withOneKmsCallPerTenant(@TempDir Path dir) throws Exception {
        CliRun r = CliRun.run(
                "bench",
                "--json",
                "--records",
                "300",
                "--dims",
                "16",
                "--tenants",
                "3",
                "--partitions",
                "2",
                "--runs",
                "1",
                "--warmup-runs",
                "0",
                "--latency-records",
                "100",
                "--latency-rate",
                "1000",
                "--data-dir",
                dir.toString());

        assertThat(r.code()).as(r.err()).isZero();
        JsonNode result = new ObjectMapper().readTree(r.out()).get("results").get(0);
        assertThat(result.get("dims").asInt()).isEqualTo(16);
        assertThat(result.get("runs"))
                .extracting(run -> run.get("topology").asText())
                .containsExactly("pass-through", "aes-gcm", "sealed");
        for (JsonNode run : result.get("runs")) {
            assertThat(run.get("records").asLong()).isEqualTo(300);
            assertThat(run.get("recordsPerSecond").asDouble()).isPositive();
            assertThat(run.get("cpuMicrosPerRecord").asDouble()).isPositive();
            assertThat(run.get("topologyCpuMicrosPerRecord").asDouble()).isPositive();
            assertThat(run.get("topologyAllocatedBytesPerRecord").asLong()).isPositive();
            assertThat(run.get("gcPauseMillis").asLong()).isNotNegative();
            assertThat(run.get("gcPauses").asLong()).isNotNegative();
            assertThat(run.get("p99Millis").asDouble())
                    .isGreaterThanOrEqualTo(run.get("p50Millis").asDouble())
                    .isNotNegative();
            assertThat(run.get("kmsCalls").asLong())
                    .isEqualTo(run.get("topology").asText().equals("sealed") ? 3 : 0);
        }
        assertThat(result.get("ratio").asDouble()).isPositive();
        assertThat(result.get("floorRatio").asDouble()).isPositive();
        assertThat(result.get("sealedToFloor").asDouble()).isPositive();
        // From the version-2 layout in docs/envelope-format.md, for the bench's first record: magic, version, payload
        // type and the tenant id's length (6), tenant id, id length (2), id, purpose length (1) and purpose, record
        // version (16), DEK id length (1) and DEK id (16), ciphertext length (4), KEK reference length (1) and
        // reference, wrapped DEK length (2) and wrapped DEK (65 bytes from the local KMS: key-management.md), nonce
        // (12)
        // and tag (16); less the raw value's 5-byte wire prefix.
        String tenant = "tenant-000";
        String id = "doc-000000#chunk-0";
        String purpose = "embeddings.sealed";
        String kek = "local:tenant-" + tenant + ":1";
        long expected = 6L
                + tenant.length()
                + 2
                + id.length()
                + 1
                + purpose.length()
                + 16
                + 1
                + 16
                + 4
                + 1
                + kek.length()
                + 2
                + 65
                + 12
                + 16
                - 5;
        assertThat(result.get("sealedExtraBytes").asLong()).isEqualTo(expected);
        assertThat(result.get("kmsCallsPerSealedRun").asLong())
                .isEqualTo(result.get("kmsBound").asLong())
                .isEqualTo(3);
    }

    @Test
    void aSteadyStateRun_overTwoTenantCounts_measuresTheSecondBatch_andDrawsCharts(@TempDir Path dir) throws Exception {
        Path charts = dir.resolve("charts");
        CliRun r = CliRun.run(
                "bench",
                "--json",
                "--records",
                "200",
                "--dims",
                "16",
                "--tenants",
                "2,5",
                "--distribution",
                "zipf:1.1",
                "--phase",
                "steady",
                "--topologies",
                "aes-gcm,sealed",
                "--stream-threads",
                "1",
                "--commit-interval-ms",
                "50",
                "--partitions",
                "2",
                "--runs",
                "1",
                "--warmup-runs",
                "0",
                "--latency-records",
                "100",
                "--latency-rate",
                "1000",
                "--chart-dir",
                charts.toString(),
                "--data-dir",
                dir.resolve("data").toString());

        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("phase").asText()).isEqualTo("steady");
        assertThat(o.get("tenantCounts")).extracting(JsonNode::asInt).containsExactly(2, 5);
        assertThat(o.get("results")).extracting(x -> x.get("tenants").asInt()).containsExactly(2, 5);
        for (JsonNode result : o.get("results")) {
            assertThat(result.get("distribution").asText()).isEqualTo("zipf:1.1");
            assertThat(result.get("streamThreads").asInt()).isEqualTo(1);
            for (JsonNode run : result.get("runs")) {
                assertThat(run.get("phase").asText()).isEqualTo("steady");
                assertThat(run.get("records").asLong()).isEqualTo(200);
                if (run.get("topology").asText().equals("sealed")) {
                    // Every DEK was made by the first batch: the measured one asks the KMS nothing, always hits.
                    assertThat(run.get("kmsCalls").asLong()).isZero();
                    assertThat(run.get("dekCacheHitRate").asDouble()).isEqualTo(1.0);
                    assertThat(run.get("dekCacheHits").asLong()).isEqualTo(200);
                }
            }
            assertThat(result.get("kmsBound").asLong()).isZero();
            assertThat(result.get("sealedToFloorSpread").get("pairs")).hasSize(1);
            assertThat(result.get("sealedToFloorSpread").get("median").asDouble())
                    .isEqualTo(result.get("sealedToFloor").asDouble(), org.assertj.core.data.Offset.offset(1e-9));
        }
        assertThat(charts.resolve("bench-tenants.png"))
                .binaryContent()
                .startsWith((byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G');
        assertThat(charts.resolve("bench-tenants-cpu.png")).exists();
    }

    @Test
    void anUnknownTopology_isRefusedWithTheChoices() {
        CliRun r = CliRun.run("bench", "--topologies", "sealed,plaintext");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--topologies takes pass-through, aes-gcm, sealed");
    }

    @Test
    void anUnknownDistributionOrPhase_isRefusedNamingTheOption() {
        CliRun zipf = CliRun.run("bench", "--distribution", "normal");
        CliRun phase = CliRun.run("bench", "--phase", "warm");

        assertThat(zipf.code()).isEqualTo(2);
        assertThat(zipf.err()).contains("--distribution takes uniform, zipf");
        assertThat(phase.code()).isEqualTo(2);
        assertThat(phase.err()).contains("--phase takes cold or steady; got warm");
    }
}
