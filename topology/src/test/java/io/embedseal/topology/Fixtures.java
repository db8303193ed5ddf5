package io.embedseal.topology;

import io.embedseal.control.KeyEvents;
import io.embedseal.keyring.DekPolicy;
import io.embedseal.keyring.KekNaming;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.SchemaRegistry;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.time.Duration;

/** Builds the topology's parts as the pipeline does, for tests that run the topology directly. */
final class Fixtures {

    private Fixtures() {}

    static SealingOptions fastOptions(boolean autoRegister) {
        return new SealingOptions(
                autoRegister, true, Duration.ofSeconds(60), Duration.ofMillis(200), Duration.ofSeconds(30));
    }

    static EmbedsealTopology.Parts parts(
            TopicNames topics,
            SchemaRegistry registry,
            Kms kms,
            EmbeddingValidator validator,
            SealingOptions options,
            KeyAdministration createMissingKeys) {
        return parts(topics, registry, kms, validator, options, createMissingKeys, DekPolicy.defaults());
    }

    static EmbedsealTopology.Parts parts(
            TopicNames topics,
            SchemaRegistry registry,
            Kms kms,
            EmbeddingValidator validator,
            SealingOptions options,
            KeyAdministration createMissingKeys,
            DekPolicy policy) {
        TenantDirectory directory = new TenantDirectory(KekNaming.defaults());
        Keyring keyring = Keyring.builder(kms)
                .naming(directory)
                .createMissingKeys(createMissingKeys == null ? null : createMissingKeys::createKek)
                .policy(policy)
                .build();
        return EmbedsealTopology.Parts.of(
                topics, new EmbeddingEventCodec(registry), validator, new Sealer(keyring), directory, options);
    }

    /** A key event's record value. */
    static byte[] keyEvent(String tenant, KeyEventType type, int version, String kms) {
        return keyEvent(tenant, type, kms, version);
    }

    static byte[] keyEvent(String tenant, KeyEventType type, String kms, int version) {
        return KeyEvents.encode(KeyEvents.event(tenant, type, kms, "tenant-" + tenant, version, "test", null));
    }
}
