package io.embedseal.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the status page lists: a few tenants, those needing attention first, the rest as totals, no key names. */
class StatusPageTest {

    static final Instant NOW = Instant.parse("2026-12-01T12:00:00Z");

    static StatusModel.TenantRow row(String tenant, String state, long sealed, double perMinute, long dlq, int ago) {
        return new StatusModel.TenantRow(
                tenant,
                state,
                "vault",
                3,
                NOW.minusSeconds(ago),
                sealed,
                perMinute,
                dlq,
                dlq == 0 ? Map.of() : Map.of("TENANT_REVOKED", dlq));
    }

    @Test
    void rows_putDeadLettersFirst_thenTenantsNotActive_thenTheBusiest_andAreCapped() {
        List<StatusModel.TenantRow> all = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            all.add(row("quiet-" + i, "ACTIVE", 10, 1, 0, 86_400));
        }
        all.add(row("busy", "ACTIVE", 9_000, 600, 0, 86_400));
        all.add(row("revoked-old", "REVOKED", 5, 0, 0, 7_200));
        all.add(row("revoked-new", "REVOKED", 5, 0, 0, 60));
        all.add(row("refused", "REVOKED", 5, 0, 42, 86_400));

        List<StatusModel.TenantRow> rows = StatusModel.select(all, 4);
        assertThat(rows)
                .extracting(StatusModel.TenantRow::tenant)
                .containsExactly("refused", "revoked-new", "revoked-old", "busy");
        StatusModel.OtherTenants others = StatusModel.others(all, rows);
        assertThat(others.count()).isEqualTo(100);
        assertThat(others.sealed()).isEqualTo(1_000);
        assertThat(StatusModel.select(all, 0)).isEmpty();
    }

    @Test
    void thePage_namesNoKey_andCountsTheTenantsItDoesNotList() {
        List<StatusModel.TenantRow> all = List.of(
                row("acme", "ACTIVE", 25, 5, 0, 100),
                row("globex", "REVOKED", 0, 0, 7, 50),
                row("initech", "DESTROYED", 0, 0, 3, 40));
        List<StatusModel.TenantRow> rows = StatusModel.select(all, 2);
        StatusModel.Snapshot s = new StatusModel.Snapshot(
                NOW,
                "embedseal",
                "RUNNING",
                "HEALTHY",
                Map.of(),
                "vault",
                true,
                25,
                0.5,
                Map.of("TENANT_REVOKED", 7L, "TENANT_DESTROYED", 3L),
                0,
                Map.of("ACTIVE", 1L, "REVOKED", 1L, "DESTROYED", 1L),
                rows,
                StatusModel.others(all, rows));
        String html = StatusPage.render(s);
        assertThat(html)
                .contains("data-tenant=\"globex\"", "data-tenant=\"initech\"")
                .doesNotContain("data-tenant=\"acme\"")
                .contains("vault v3")
                .doesNotContain("tenant-globex", "tenant-acme")
                .contains("id=\"other-tenants\">1 more tenants, not listed: 25 sealed");
    }
}
