package io.embedseal.keyring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.config.ConfigValueException;
import io.embedseal.keyring.kms.local.LocalKms;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyringSettingsTest {

    @TempDir
    Path dir;

    @Test
    void defaults_areTheLocalProviderAndTheDocumentedPolicy() {
        KeyringSettings s = KeyringSettings.of(Map.of());

        assertThat(s.provider()).isEqualTo("local");
        assertThat(s.createMissingKeys()).isFalse();
        assertThat(s.dekPolicy()).isEqualTo(DekPolicy.defaults());
        assertThat(s.naming().kekNameFor("acme")).isEqualTo("tenant-acme");
    }

    @Test
    void providerIsChosenByName_andAnUnknownNameIsRefused() {
        assertThat(KmsProviders.create(
                        KeyringSettings.of(Map.of("kms.provider", "local", "kms.local.dir", dir.toString()))))
                .isInstanceOf(LocalKms.class);
        assertThatThrownBy(() -> KeyringSettings.of(Map.of("kms.provider", "azure")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("kms.provider must be one of local, vault, pkcs11, aws, got 'azure'");
    }

    @Test
    void everyBadValue_namesItsSetting() {
        assertThatThrownBy(() -> KeyringSettings.of(Map.of("dek.max-records", "lots")))
                .isInstanceOf(ConfigValueException.class)
                .hasMessageContaining("dek.max-records must be a whole number from 1 to 4294967296, got 'lots'")
                .extracting(e -> ((ConfigValueException) e).setting())
                .isEqualTo("dek.max-records");
        assertThatThrownBy(() -> KeyringSettings.of(Map.of("dek.max-records", "5000000000")))
                .hasMessageContaining("dek.max-records must be a whole number from 1 to 4294967296, got '5000000000'");
        assertThatThrownBy(() -> KeyringSettings.of(Map.of("kms.create-missing-keys", "yes")))
                .hasMessageContaining("kms.create-missing-keys must be true or false");
        assertThatThrownBy(() -> KeyringSettings.of(Map.of("kms.key-name-template", "fixed-name")))
                .hasMessageContaining("kms.key-name-template must contain {tenant}");
        assertThatThrownBy(() -> KeyringSettings.of(
                        Map.of("kms.retry.max-backoff-ms", "1", "kms.retry.initial-backoff-ms", "10")))
                .hasMessageContaining("kms.retry");
        assertThatThrownBy(() -> KmsProviders.create(KeyringSettings.of(Map.of("kms.provider", "pkcs11"), n -> "1234")))
                .hasMessageContaining("kms.pkcs11.library is required")
                .extracting(e -> ((ConfigValueException) e).setting())
                .isEqualTo("kms.pkcs11.library");
    }

    @Test
    void explicitKeyNames_bringYourOwnKey_andMapBack() {
        KeyringSettings s = KeyringSettings.of(
                Map.of("kms.key-name-template", "embedseal/{tenant}/kek", "kms.key-name.acme", "acme-owned-key"));

        KekNaming naming = s.naming();

        assertThat(naming.kekNameFor("acme")).isEqualTo("acme-owned-key");
        assertThat(naming.kekNameFor("globex")).isEqualTo("embedseal/globex/kek");
        assertThat(naming.tenantFor("acme-owned-key")).isEqualTo("acme");
        assertThat(naming.tenantFor("embedseal/globex/kek")).isEqualTo("globex");
        assertThat(naming.tenantFor("embedseal/acme/kek"))
                .as("acme's templated name is not acme's key")
                .isNull();
        assertThat(naming.tenantFor("something-else")).isNull();
    }

    @Test
    void twoTenantsCannotShareAnExplicitKey() {
        assertThatThrownBy(() -> KeyringSettings.of(Map.of("kms.key-name.a", "shared", "kms.key-name.b", "shared")))
                .hasMessageContaining("every tenant needs its own key");
    }

    @Test
    void aTenantCannotClaimTheKeyTheTemplateGivesAnother() {
        assertThatThrownBy(() -> KeyringSettings.of(Map.of("kms.key-name.acme", "tenant-bob")))
                .hasMessageContaining("kms.key-name.acme")
                .hasMessageContaining("gives tenant bob");
        // bob bringing its own key frees the templated name; acme naming its own templated name is fine.
        KeyringSettings.of(Map.of("kms.key-name.acme", "tenant-bob", "kms.key-name.bob", "bob-own"));
        KeyringSettings.of(Map.of("kms.key-name.acme", "tenant-acme"));
    }

    @Test
    void dekPolicySettings_areRead() {
        KeyringSettings s = KeyringSettings.of(Map.of(
                "dek.max-records",
                "1_000",
                "dek.max-age-seconds",
                "60",
                "dek.cache.max-size",
                "5",
                "dek.cache.idle-expiry-seconds",
                "30"));

        assertThat(s.dekPolicy()).isEqualTo(new DekPolicy(1000, Duration.ofSeconds(60), 5, Duration.ofSeconds(30)));
    }

    @Test
    void dekCacheMaxSize_defaultsToAShareOfTheHeap_boundedBothWays_andAnExplicitValueWins() {
        assertThat(DekPolicy.defaultCacheMaxSize(1L << 30)).as("-Xmx1g").isEqualTo(20_971);
        assertThat(DekPolicy.defaultCacheMaxSize(6L << 30)).as("6 GiB").isEqualTo(125_829);
        assertThat(DekPolicy.defaultCacheMaxSize(256L << 20))
                .as("a small heap keeps the old floor")
                .isEqualTo(10_000);
        assertThat(DekPolicy.defaultCacheMaxSize(1L << 40))
                .as("a huge heap is capped")
                .isEqualTo(1_000_000);
        assertThat(DekPolicy.defaultCacheMaxSize(Long.MAX_VALUE)).isEqualTo(1_000_000);

        assertThat(KeyringSettings.of(Map.of()).dekPolicy().cacheMaxSize())
                .isEqualTo(DekPolicy.defaultCacheMaxSize(Runtime.getRuntime().maxMemory()))
                .isEqualTo(DekPolicy.defaults().cacheMaxSize());
        assertThat(KeyringSettings.of(Map.of("dek.cache.max-size", "0"))
                        .dekPolicy()
                        .cacheMaxSize())
                .as("0 is the default")
                .isEqualTo(DekPolicy.DEFAULT_CACHE_MAX_SIZE);
        assertThat(KeyringSettings.of(Map.of("dek.cache.max-size", "3"))
                        .dekPolicy()
                        .cacheMaxSize())
                .isEqualTo(3);
        assertThatThrownBy(() -> KeyringSettings.of(Map.of("dek.cache.max-size", "-1")))
                .isInstanceOf(ConfigValueException.class)
                .extracting(e -> ((ConfigValueException) e).setting())
                .isEqualTo("dek.cache.max-size");
    }

    @Test
    void maxOpenSeconds_defaultsToFiveMinutes_isRead_andABadValueNamesIt() {
        assertThat(KeyringSettings.of(Map.of()).dekPolicy().maxOpen()).isEqualTo(Duration.ofMinutes(5));
        assertThat(KeyringSettings.of(Map.of("dek.max-open-seconds", "60")).dekPolicy())
                .isEqualTo(DekPolicy.defaults().withMaxOpen(Duration.ofSeconds(60)));
        for (String bad : new String[] {"0", "-5", "soon"}) {
            assertThatThrownBy(() -> KeyringSettings.of(Map.of("dek.max-open-seconds", bad)))
                    .isInstanceOf(ConfigValueException.class)
                    .hasMessageContaining("dek.max-open-seconds must be")
                    .extracting(e -> ((ConfigValueException) e).setting())
                    .isEqualTo("dek.max-open-seconds");
        }
        assertThatThrownBy(() -> DekPolicy.defaults().withMaxOpen(Duration.ofMillis(500)))
                .hasMessageContaining("dek.max-open-seconds must be at least 1 second");
        assertThat(DekPolicy.defaults().withMaxOpen(Duration.ofMinutes(2)).sealingLifetime())
                .as("a sealing DEK lives min(max-age, max-open)")
                .isEqualTo(Duration.ofMinutes(2));
    }
}
