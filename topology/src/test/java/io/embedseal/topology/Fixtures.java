package io.embedseal.topology;

import io.embedseal.control.KeyEventAuthor;
import io.embedseal.control.KeyEventGate;
import io.embedseal.control.TrustedSigners;
import io.embedseal.keyring.DekPolicy;
import io.embedseal.keyring.KekNaming;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.SchemaRegistry;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.validation.EmbeddingValidator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
                topics, new EmbeddingEventCodec(registry), validator, new Sealer(keyring), gate(directory), options);
    }

    /** The gate the pipeline builds from its settings, trusting the tests' operator key. */
    static KeyEventGate gate(TenantDirectory directory) {
        return new KeyEventGate(
                directory, TrustedSigners.of(OPERATOR.signer().publicKey()), KeyEventGate.Mode.REQUIRED);
    }

    /** The tests' operator: a development signing key, with each tenant's sequence counted on per JVM. */
    static final KeyEventAuthor OPERATOR = operator();

    private static KeyEventAuthor operator() {
        try {
            Path dir = Files.createTempDirectory("embedseal-test-signing");
            return KeyEventAuthor.creatingKey(
                    new LocalKms(dir).signingKeys().orElseThrow(), "embedseal-operator-signing", "test");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A key event's record value, signed by the tests' operator with the tenant's next sequence. */
    static byte[] keyEvent(String tenant, KeyEventType type, int version, String kms) {
        return keyEvent(tenant, type, kms, version);
    }

    static byte[] keyEvent(String tenant, KeyEventType type, String kms, int version) {
        return OPERATOR.next(tenant, type, kms, "tenant-" + tenant, version);
    }
}
