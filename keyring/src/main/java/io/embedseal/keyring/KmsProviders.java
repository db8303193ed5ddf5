package io.embedseal.keyring;

import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.decorator.InterceptedKeyAdministration;
import io.embedseal.keyring.kms.decorator.InterceptedKms;
import io.embedseal.keyring.kms.decorator.KmsAuditListener;
import io.embedseal.keyring.kms.decorator.KmsAuditing;
import io.embedseal.keyring.kms.decorator.KmsDeadline;
import io.embedseal.keyring.kms.decorator.KmsInstrumentation;
import io.embedseal.keyring.kms.decorator.KmsObserver;
import io.embedseal.keyring.kms.decorator.KmsRetry;
import java.time.Clock;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Creates KMS providers by the name in {@code kms.provider}, and hands out the two narrow views of one:
 * {@link #decorate data-key use} (the pipeline, sinks, search, serializers) and
 * {@link #administer key administration} (the operator command line), each wrapped in the standard
 * interceptors. The provider is the one {@code kms.provider} names among the provider modules on the class path
 * ({@link KmsProviderRegistry}), which names every shipped provider's factory: nothing is discovered.
 */
public final class KmsProviders {

    private KmsProviders() {}

    /**
     * The bare provider the settings name, able to use and administer keys. Give it to no one as it is: hand out
     * {@link #decorate} or {@link #administer} views.
     *
     * @throws IllegalArgumentException naming the setting, if the provider's settings are incomplete or wrong
     */
    public static KmsProvider create(KeyringSettings s) {
        return KmsProviderRegistry.create(s);
    }

    /**
     * Data-key use of a provider (wrap, unwrap, describe) and nothing else: audit (one event per operation,
     * outermost) around retry around instrumentation (one observation per attempt).
     *
     * @param observer        may be null for none
     * @param audit           may be null for none
     * @param tenantOfKeyName which tenant a key name belongs to, for the audit entries: the pipeline's tenant
     *                        directory where tenants bring their own key names, else {@link KeyringSettings#naming()}
     */
    public static Kms decorate(
            Kms provider,
            KeyringSettings s,
            @Nullable KmsObserver observer,
            @Nullable KmsAuditListener audit,
            Function<String, String> tenantOfKeyName,
            Clock clock) {
        return decorate(provider, s, observer, audit, tenantOfKeyName, clock, false);
    }

    /**
     * As {@link #decorate(Kms, KeyringSettings, KmsObserver, KmsAuditListener, Function, Clock)}, for a thread that
     * serves many tenants (a stream thread, a sink task) when {@code sharedThread}: no retry inside (the caller
     * retries the record: one retry layer, and a fault of one tenant's key would hold the others longer with two),
     * and every data-key call bounded by {@code kms.call-deadline-ms} ({@link KmsDeadline}).
     */
    public static Kms decorate(
            Kms provider,
            KeyringSettings s,
            @Nullable KmsObserver observer,
            @Nullable KmsAuditListener audit,
            Function<String, String> tenantOfKeyName,
            Clock clock,
            boolean sharedThread) {
        Kms kms = provider;
        if (sharedThread) {
            kms = new InterceptedKms(kms, new KmsDeadline(s.callDeadline()));
        }
        if (observer != null) {
            kms = new InterceptedKms(kms, new KmsInstrumentation(observer));
        }
        if (!sharedThread) {
            kms = new InterceptedKms(kms, new KmsRetry(s.retryPolicy()));
        }
        if (audit != null) {
            kms = new InterceptedKms(kms, new KmsAuditing(tenantOfKeyName, audit, clock));
        }
        return kms;
    }

    /** {@link #decorate(Kms, KeyringSettings, KmsObserver, KmsAuditListener, Function, Clock)} with the configured naming. */
    public static Kms decorate(
            Kms provider,
            KeyringSettings s,
            @Nullable KmsObserver observer,
            @Nullable KmsAuditListener audit,
            Clock clock) {
        return decorate(provider, s, observer, audit, s.naming()::tenantFor, clock);
    }

    /**
     * Key administration of a provider (create, rotate, restrict, disable, enable, destroy) for the operator,
     * audited (outermost) and retried; it cannot wrap or unwrap DEKs.
     *
     * @param audit may be null for none
     */
    public static KeyAdministration administer(
            KeyAdministration provider,
            KeyringSettings s,
            @Nullable KmsAuditListener audit,
            Function<String, String> tenantOfKeyName,
            Clock clock) {
        KeyAdministration admin = new InterceptedKeyAdministration(provider, new KmsRetry(s.retryPolicy()));
        if (audit != null) {
            admin = new InterceptedKeyAdministration(admin, new KmsAuditing(tenantOfKeyName, audit, clock));
        }
        return admin;
    }

    /**
     * A keyring that seals only the tenants whose public KEKs it is given, with no KMS at all: every KMS call fails
     * naming the setting, so the process holds no KMS credential (a producer sealing on its own side).
     */
    public static Keyring publicKeyOnlyKeyring(
            KeyringSettings s, java.util.Map<String, io.embedseal.keyring.kms.PublicKek> pinned) {
        Kms none = new Kms() {
            private io.embedseal.keyring.kms.KmsException refused(String what) {
                return new io.embedseal.keyring.kms.KmsException("no KMS is configured here (only public KEKs, "
                        + "embedseal.public-keks.file): cannot " + what);
            }

            @Override
            public String provider() {
                return "none";
            }

            @Override
            public io.embedseal.keyring.kms.WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
                throw refused("wrap under key '" + keyName + "', which is no tenant's pinned public KEK");
            }

            @Override
            public byte[] unwrapDek(io.embedseal.keyring.kms.KekRef kek, byte[] wrappedDek, byte[] associatedData) {
                throw refused("unwrap under " + kek);
            }

            @Override
            public io.embedseal.keyring.kms.KeyDescription describe(String keyName) {
                throw refused("describe key '" + keyName + "'");
            }
        };
        return Keyring.builder(none)
                .naming(PinnedPublicKeks.resolver(s.naming(), pinned))
                .policy(s.dekPolicy())
                .build();
    }

    /**
     * A keyring on the configured, decorated provider, with the configured naming and DEK policy. Only where
     * {@code kms.create-missing-keys=true} (development) does it also hold the right to create keys.
     */
    public static Keyring keyring(KeyringSettings s, @Nullable KmsObserver observer, @Nullable KmsAuditListener audit) {
        return keyring(s, s.naming(), observer, audit);
    }

    /** {@link #keyring(KeyringSettings, KmsObserver, KmsAuditListener)} with the tenants' KEKs resolved by {@code naming}. */
    public static Keyring keyring(
            KeyringSettings s, KekResolver naming, @Nullable KmsObserver observer, @Nullable KmsAuditListener audit) {
        KmsProvider provider = create(s);
        Kms kms = decorate(provider, s, observer, audit, Clock.systemUTC());
        return Keyring.builder(kms)
                .naming(naming)
                .policy(s.dekPolicy())
                .createMissingKeys(
                        s.createMissingKeys()
                                ? administer(provider, s, audit, s.naming()::tenantFor, Clock.systemUTC())::createKek
                                : null)
                .build();
    }
}
