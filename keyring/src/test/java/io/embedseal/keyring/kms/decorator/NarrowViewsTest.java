package io.embedseal.keyring.kms.decorator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.UnknownKeyException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a holder of each view can do. The attack: code given the pipeline's {@link Kms} casts it to
 * {@link KeyAdministration} and destroys a tenant's key. The bare provider allows it (the control); the views
 * handed out by {@link KmsProviders} do not.
 */
class NarrowViewsTest {

    @TempDir
    Path dir;

    private KeyringSettings settings() {
        return KeyringSettings.of(Map.of("kms.provider", "local", "kms.local.dir", dir.toString()));
    }

    private static void destroyByCast(Object held, String keyName) {
        ((KeyAdministration) held).destroy(keyName);
    }

    @Test
    void aCastFromTheBareProvider_destroysTheKey_theControl() {
        KmsProvider provider = KmsProviders.create(settings());
        provider.createKek("tenant-acme");
        Kms asDataKeys = provider;

        destroyByCast(asDataKeys, "tenant-acme");

        assertThatThrownBy(() -> provider.describe("tenant-acme")).isInstanceOf(UnknownKeyException.class);
    }

    @Test
    void theDataKeyView_cannotBeCastToAdministration_andTheKeySurvives() {
        KmsProvider provider = KmsProviders.create(settings());
        provider.createKek("tenant-acme");
        Kms decorated = KmsProviders.decorate(provider, settings(), null, e -> {}, Clock.systemUTC());
        Kms bare = InterceptedKms.view(provider);

        assertThatThrownBy(() -> destroyByCast(decorated, "tenant-acme")).isInstanceOf(ClassCastException.class);
        assertThatThrownBy(() -> destroyByCast(bare, "tenant-acme")).isInstanceOf(ClassCastException.class);
        assertThat(provider.describe("tenant-acme").latestVersion()).isEqualTo(1);
    }

    @Test
    void theAdministrationView_cannotWrapOrUnwrap() {
        KeyAdministration admin = KmsProviders.administer(
                KmsProviders.create(settings()), settings(), null, settings().naming()::tenantFor, Clock.systemUTC());

        assertThat(admin).isNotInstanceOf(Kms.class);
        assertThat(InterceptedKeyAdministration.view(KmsProviders.create(settings())))
                .isNotInstanceOf(Kms.class);
    }

    @Test
    void administration_isAudited_withTheTenantTheCallerMapsTheKeyTo() {
        List<KmsAuditEvent> events = new ArrayList<>();
        // A tenant that brought its own key name: the naming template cannot map it back, the caller's directory can.
        KeyAdministration admin = KmsProviders.administer(
                KmsProviders.create(settings()),
                settings(),
                events::add,
                name -> name.equals("acme-own-key") ? "acme" : null,
                Clock.systemUTC());

        admin.createKek("acme-own-key");
        admin.rotate("acme-own-key");

        assertThat(events)
                .extracting(KmsAuditEvent::operation)
                .containsExactly(KmsOperation.CREATE, KmsOperation.ROTATE);
        assertThat(events).extracting(KmsAuditEvent::tenantId).containsOnly("acme");
        assertThat(settings().naming().tenantFor("acme-own-key"))
                .as("the template alone names no tenant")
                .isNull();
    }
}
