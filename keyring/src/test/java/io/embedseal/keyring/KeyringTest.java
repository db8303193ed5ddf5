package io.embedseal.keyring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.decorator.InterceptedKms;
import io.embedseal.keyring.kms.decorator.KmsCallStats;
import io.embedseal.keyring.kms.decorator.KmsInstrumentation;
import io.embedseal.keyring.kms.local.LocalKms;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyringTest {

    private static final byte[] AAD = "record-1".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private LocalKms local;
    private KmsCallStats stats;
    private InterceptedKms kms;
    private MutableClock clock;

    @BeforeEach
    void setUp() {
        local = new LocalKms(dir);
        stats = new KmsCallStats();
        kms = new InterceptedKms(local, new KmsInstrumentation(stats));
        clock = new MutableClock();
    }

    private Keyring.Builder keyring() {
        return Keyring.builder(kms).createMissingKeys(local::createKek).clock(clock);
    }

    @Test
    void oneActiveDekPerTenant_underTheTenantsOwnKek() {
        Keyring keyring = keyring().build();

        Dek a1 = keyring.sealingDek("a");
        Dek a2 = keyring.sealingDek("a");
        Dek b = keyring.sealingDek("b");

        assertThat(a2).isSameAs(a1);
        assertThat(b.id()).isNotEqualTo(a1.id());
        assertThat(a1.kek()).isEqualTo(new KekRef("local", "tenant-a", 1));
        assertThat(b.kek()).isEqualTo(new KekRef("local", "tenant-b", 1));
        assertThat(keyring.activeDekCount()).isEqualTo(2);
    }

    @Test
    void cacheStats_countHitsAndMisses_ofBothCaches() {
        Keyring keyring = keyring().build();
        Dek a = keyring.sealingDek("a");
        keyring.sealingDek("a");
        keyring.sealingDek("a");
        keyring.sealingDek("b");
        Keyring reader = Keyring.of(kms);
        reader.openDek("a", a.kek(), a.id(), a.wrapped());
        reader.openDek("a", a.kek(), a.id(), a.wrapped());

        assertThat(keyring.cacheStats()).isEqualTo(new Keyring.CacheStats(2, 2, 0, 0));
        assertThat(reader.cacheStats()).isEqualTo(new Keyring.CacheStats(0, 0, 1, 1));
    }

    @Test
    void missingKek_failsClosed_unlessCreationIsAllowed() {
        Keyring strict = Keyring.builder(kms).build();

        assertThatThrownBy(() -> strict.sealingDek("a")).isInstanceOf(UnknownKeyException.class);
        assertThatThrownBy(() -> local.describe("tenant-a")).isInstanceOf(UnknownKeyException.class);

        assertThat(keyring().build().sealingDek("a").kek().version()).isEqualTo(1);
    }

    @Test
    void explicitKeyNames_areUsedForTenantsThatBringTheirOwnKey() {
        local.createKek("customer-managed-acme");
        Keyring keyring = keyring()
                .naming(KekNaming.defaults().withExplicitNames(Map.of("acme", "customer-managed-acme")))
                .build();

        assertThat(keyring.sealingDek("acme").kek().keyName()).isEqualTo("customer-managed-acme");
        assertThat(keyring.sealingDek("other").kek().keyName()).isEqualTo("tenant-other");
    }

    @Test
    void anotherKeyringOpensTheDekFromItsWrappedForm() throws GeneralSecurityException {
        Dek sealing = keyring().build().sealingDek("a");
        byte[] ciphertext = sealing.encrypt("vector".getBytes(StandardCharsets.UTF_8), AAD);

        Dek opened = Keyring.of(new LocalKms(dir)).openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());

        assertThat(new String(opened.decrypt(ciphertext, AAD), StandardCharsets.UTF_8))
                .isEqualTo("vector");
    }

    @Test
    void openingADekUnderAnotherTenantsKek_isRefused() {
        Keyring keyring = keyring().build();
        Dek ofB = keyring.sealingDek("b");

        assertThatThrownBy(() -> keyring.openDek("a", ofB.kek(), ofB.id(), ofB.wrapped()))
                .isInstanceOf(KeyMismatchException.class)
                .hasMessageContaining("tenant-b")
                .hasMessageContaining("tenant-a");
    }

    @Test
    void wrappedDekIsBoundToItsTenant_evenUnderASharedKek() {
        local.createKek("shared");
        Dek ofA = new DekFactory(local).create("a", "shared");

        assertThatThrownBy(() -> new DekFactory(local).open("b", ofA.kek(), ofA.id(), ofA.wrapped()))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void aNewDek_afterTheRecordLimit_exactly() {
        Keyring keyring =
                keyring().policy(DekPolicy.defaults().withMaxRecordsPerDek(3)).build();
        Set<Object> ids = new HashSet<>();
        Dek first = keyring.sealingDek("a");
        ids.add(first.id());

        assertThat(keyring.sealingDek("a")).isSameAs(first);
        assertThat(keyring.sealingDek("a")).isSameAs(first);
        Dek fourth = keyring.sealingDek("a");

        assertThat(fourth.id()).isNotEqualTo(first.id());
        for (int i = 0; i < 9; i++) {
            ids.add(keyring.sealingDek("a").id());
        }
        // 13 records at 3 per DEK: 5 DEKs, each wrapped by exactly one successful KMS call (the first
        // attempt found no KEK and created it).
        assertThat(ids).hasSize(5);
        assertThat(stats.calls(KmsOperation.WRAP, KmsOutcome.OK)).isEqualTo(5);
        assertThat(stats.calls(KmsOperation.WRAP, KmsOutcome.UNKNOWN_KEY)).isEqualTo(1);
    }

    @Test
    void aNewDek_afterTheMaximumAge() {
        Keyring keyring = keyring()
                .policy(DekPolicy.defaults().withMaxDekAge(Duration.ofMinutes(5)))
                .build();
        Dek first = keyring.sealingDek("a");

        clock.advance(Duration.ofMinutes(4));
        assertThat(keyring.sealingDek("a")).isSameAs(first);
        clock.advance(Duration.ofMinutes(1));

        assertThat(keyring.sealingDek("a").id()).isNotEqualTo(first.id());
    }

    @Test
    void aRotatedKek_isPickedUpByTheNextDek() {
        Keyring keyring =
                keyring().policy(DekPolicy.defaults().withMaxRecordsPerDek(1)).build();
        assertThat(keyring.sealingDek("a").kek().version()).isEqualTo(1);

        local.rotate("tenant-a");

        assertThat(keyring.sealingDek("a").kek().version()).isEqualTo(2);
    }

    @Test
    void openedDeksAreCached_andEvictionGoesBackToTheKms() {
        Dek sealing = keyring().build().sealingDek("a");
        Keyring reader = keyring().build();
        long before = stats.calls(KmsOperation.UNWRAP);

        reader.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());
        reader.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());
        assertThat(stats.calls(KmsOperation.UNWRAP) - before).isEqualTo(1);

        reader.evict("a");
        assertThat(reader.cachedDekCount()).isZero();
        reader.openDek("a", sealing.kek(), sealing.id(), sealing.wrapped());
        assertThat(stats.calls(KmsOperation.UNWRAP) - before).isEqualTo(2);
    }

    @Test
    void evictionDropsTheActiveDekToo() {
        Keyring keyring = keyring().build();
        Dek first = keyring.sealingDek("a");
        keyring.sealingDek("b");

        keyring.evict("a");

        assertThat(keyring.activeDekCount()).isEqualTo(1);
        assertThat(keyring.sealingDek("a").id()).isNotEqualTo(first.id());
    }

    @Test
    void cachesAreBounded() {
        Keyring writer = keyring().build();
        Keyring reader = keyring()
                .policy(DekPolicy.defaults().withCache(2, Duration.ofMinutes(10)))
                .build();
        for (String tenant : new String[] {"a", "b", "c", "d"}) {
            Dek dek = writer.sealingDek(tenant);
            reader.openDek(tenant, dek.kek(), dek.id(), dek.wrapped());
            reader.sealingDek(tenant);
        }

        assertThat(reader.cachedDekCount()).isEqualTo(2);
        assertThat(reader.activeDekCount()).isEqualTo(2);
    }

    @Test
    void idleDeks_expireFromMemory() {
        Keyring keyring = keyring()
                .policy(DekPolicy.defaults().withCache(100, Duration.ofMinutes(10)))
                .build();
        Dek first = keyring.sealingDek("a");
        Dek reader = keyring.openDek("a", first.kek(), first.id(), first.wrapped());
        assertThat(reader).isSameAs(first);
        long unwraps = stats.calls(KmsOperation.UNWRAP);

        clock.advance(Duration.ofMinutes(10));

        assertThat(keyring.sealingDek("a").id())
                .as("a new sealing DEK after idling")
                .isNotEqualTo(first.id());
        keyring.openDek("a", first.kek(), first.id(), first.wrapped());
        assertThat(stats.calls(KmsOperation.UNWRAP)).isEqualTo(unwraps + 1);
    }

    @Test
    void alteredWrappedForm_isNotServedFromTheCache() {
        Keyring keyring = keyring().build();
        Dek dek = keyring.sealingDek("a");
        byte[] altered = dek.wrapped();
        altered[altered.length - 1] ^= 1;

        assertThatThrownBy(() -> keyring.openDek("a", dek.kek(), dek.id(), altered))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }

    @Test
    void toStringShowsIdsButNoKey() {
        Dek dek = keyring().build().sealingDek("a");

        assertThat(dek.toString()).contains("tenant=a", dek.id().toString(), "local:tenant-a:1", "<redacted>");
    }

    @Test
    void invalidTenantIds_areRejected() {
        Keyring keyring = keyring().build();

        assertThatThrownBy(() -> keyring.sealingDek("../x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tenant id must be");
        assertThatThrownBy(() -> keyring.sealingDek("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> keyring.sealingDek("a".repeat(65))).isInstanceOf(IllegalArgumentException.class);
    }
}
