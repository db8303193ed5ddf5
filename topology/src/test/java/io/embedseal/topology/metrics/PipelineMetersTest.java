package io.embedseal.topology.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.KekNaming;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.topology.DeadLetterReason;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class PipelineMetersTest {

    static TenantDirectory directory(int tenants) {
        TenantDirectory d = new TenantDirectory(KekNaming.defaults());
        for (int i = 0; i < tenants; i++) {
            d.apply(new TenantState(
                    "t" + i,
                    i == 0 ? TenantStatus.REVOKED : TenantStatus.ACTIVE,
                    "local",
                    "tenant-t" + i,
                    1,
                    "REGISTERED",
                    Instant.EPOCH));
        }
        return d;
    }

    static long seriesCount(String scrape, String metric) {
        Matcher m = Pattern.compile("(?m)^" + metric + "\\{").matcher(scrape);
        long n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    @Test
    void tenantSeries_areCapped_andHostileIdsNeverBecomeLabels() {
        PipelineMeters meters = new PipelineMeters(directory(10_000), 3);
        for (int i = 0; i < 10_000; i++) {
            meters.sealed("t" + i);
        }
        for (int i = 0; i < 1_000; i++) {
            meters.deadLettered(DeadLetterReason.UNKNOWN_TENANT, "attacker-" + i);
        }
        meters.deadLettered(DeadLetterReason.INVALID_TENANT_ID, "bad tenant id\n");
        meters.deadLettered(DeadLetterReason.UNDECODABLE, null);

        String scrape = meters.scrape();
        assertThat(seriesCount(scrape, "embedseal_sealed_records_total"))
                .as("3 tenants + _other")
                .isEqualTo(4);
        assertThat(scrape).contains("embedseal_sealed_records_total{tenant=\"_other\"} 9997.0");
        assertThat(scrape)
                .contains("embedseal_dlq_records_total{reason=\"UNKNOWN_TENANT\",tenant=\"_unregistered\"} 1000.0");
        assertThat(scrape)
                .contains("tenant=\"_invalid\"")
                .contains("tenant=\"_none\"")
                .doesNotContain("attacker-");
        assertThat(meters.sealedTotal()).isEqualTo(10_000);
        assertThat(meters.tenantTotals()).hasSize(10_000); // the status page still sees every registered tenant
        assertThat(scrape)
                .contains("embedseal_tenants{state=\"ACTIVE\"} 9999.0")
                .contains("embedseal_tenants{state=\"REVOKED\"} 1.0");
        meters.close();
    }

    @Test
    void kmsCallsAndKeyEvents_haveLatencyHistograms() {
        PipelineMeters meters = new PipelineMeters(directory(1), 10);
        meters.onCall("vault", KmsOperation.WRAP, KmsOutcome.OK, 2_000_000);
        meters.onCall("vault", KmsOperation.WRAP, KmsOutcome.UNAVAILABLE, 30_000_000);
        meters.keyEvent(KeyEventType.REVOKED, "t0", 7, true);
        String scrape = meters.scrape();
        assertThat(scrape)
                .contains("embedseal_kms_calls_seconds_count{operation=\"WRAP\",outcome=\"OK\",provider=\"vault\"} 1")
                .contains(
                        "embedseal_kms_calls_seconds_bucket{operation=\"WRAP\",outcome=\"UNAVAILABLE\",provider=\"vault\"")
                .contains("embedseal_key_event_propagation_seconds_bucket{type=\"REVOKED\"")
                .contains("embedseal_key_events_total{outcome=\"applied\",type=\"REVOKED\"} 1.0");
        meters.close();
    }
}
