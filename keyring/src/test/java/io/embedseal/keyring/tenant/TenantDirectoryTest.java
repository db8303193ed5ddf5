package io.embedseal.keyring.tenant;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.keyring.KekNaming;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The directory answers "whose KEK is this?" from an index kept with the tenants' states (the key-event gate asks it
 * for every registration; it used to scan every tenant): the index follows registration, a new key name, forgetting
 * and states loaded after a restart, and never names a tenant for a key it no longer has.
 */
class TenantDirectoryTest {

    private static TenantState state(String tenant, TenantStatus status, String kekName) {
        return new TenantState(tenant, status, "local", kekName, 1, "REGISTERED", Instant.EPOCH);
    }

    @Test
    void tenantFor_followsTheStatesKekNames() {
        TenantDirectory d = new TenantDirectory(KekNaming.defaults());
        d.apply(state("acme", TenantStatus.ACTIVE, "kek-acme"));
        d.apply(state("globex", TenantStatus.ACTIVE, "kek-globex"));

        assertThat(d.tenantFor("kek-acme")).isEqualTo("acme");
        assertThat(d.tenantFor("kek-globex")).isEqualTo("globex");

        d.apply(state("acme", TenantStatus.ACTIVE, "kek-acme-2")); // a migration to another key name
        assertThat(d.tenantFor("kek-acme"))
                .as("the old name is free")
                .isEqualTo(KekNaming.defaults().tenantFor("kek-acme"));
        assertThat(d.tenantFor("kek-acme-2")).isEqualTo("acme");

        d.forget("globex");
        assertThat(d.tenantFor("kek-globex")).isNull();
        assertThat(d.tenantFor("tenant-initech"))
                .as("names no tenant registered: the configured naming answers")
                .isEqualTo("initech");
    }

    @Test
    void aDestroyedTenant_keepsItsKeyName_andAStateLoadedAfterARestart_isIndexed() {
        Map<String, TenantState> durable = Map.of("initech", state("initech", TenantStatus.ACTIVE, "kek-initech"));
        TenantDirectory d = new TenantDirectory(KekNaming.defaults(), durable::get);
        d.apply(state("acme", TenantStatus.DESTROYED, "kek-acme"));

        assertThat(d.apply(state("acme", TenantStatus.ACTIVE, "kek-other"))).isFalse();
        assertThat(d.tenantFor("kek-acme")).isEqualTo("acme");
        assertThat(d.tenantFor("kek-other")).isNull();

        assertThat(d.get("initech")).isNotNull();
        assertThat(d.tenantFor("kek-initech")).isEqualTo("initech");
    }

    @Test
    void aStateLoadedInsideApply_isIndexed_whetherItsNameChangesOrItIsDestroyed() {
        Map<String, TenantState> durable = Map.of(
                "initech", state("initech", TenantStatus.ACTIVE, "kek-initech"),
                "hooli", state("hooli", TenantStatus.DESTROYED, "kek-hooli"));
        TenantDirectory d = new TenantDirectory(KekNaming.defaults(), durable::get);

        d.apply(state("initech", TenantStatus.REVOKED, "kek-initech")); // the same name: nothing "moves"
        assertThat(d.apply(state("hooli", TenantStatus.ACTIVE, "kek-other"))).isFalse();

        assertThat(d.tenantFor("kek-initech")).isEqualTo("initech");
        assertThat(d.tenantFor("kek-hooli")).isEqualTo("hooli");
        assertThat(d.tenantFor("kek-other")).isNull();
    }
}
