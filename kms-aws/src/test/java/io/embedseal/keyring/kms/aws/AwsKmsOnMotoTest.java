package io.embedseal.keyring.kms.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.InvalidWrappedKeyException;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.UnsupportedKmsOperationException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.Moto;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kms.KmsClient;
import software.amazon.awssdk.services.kms.model.AliasListEntry;

/**
 * What the AWS provider does beyond the contract, against moto's KMS server: the encryption context and the attack it
 * stops, a tenant's own key named by ARN, alias names, the waiting period of a deletion, signing keys.
 */
class AwsKmsOnMotoTest {

    private static final byte[] DEK =
            HexFormat.of().parseHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    private static final byte[] DEK_ID = HexFormat.of().parseHex("0f0e0d0c0b0a09080706050403020100");

    private static Map<String, String> settings;
    private static AwsKms kms;
    /** The tenant's side: the SDK as the tenant's own account uses it (moto has one account). */
    private static KmsClient tenantAccount;

    @BeforeAll
    static void start() {
        settings = Moto.settings();
        kms = (AwsKms) KmsProviderRegistry.create(KmsSettings.of(settings, Moto.environment()::apply));
        tenantAccount = KmsClient.builder()
                .region(Region.of(settings.get("kms.aws.region")))
                .endpointOverride(URI.create(settings.get("kms.aws.endpoint")))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(
                        Moto.CREDENTIALS.get("AWS_ACCESS_KEY_ID"), Moto.CREDENTIALS.get("AWS_SECRET_ACCESS_KEY"))))
                .build();
    }

    @AfterAll
    static void stop() {
        if (kms != null) {
            kms.close();
        }
        if (tenantAccount != null) {
            tenantAccount.close();
        }
    }

    /** Associated data as the keyring binds a DEK: "embedseal.dek.v1" 0x00 len(tenant) tenant dekId. */
    private static byte[] dekBinding(String tenant) {
        return binding("embedseal.dek.v1", tenant);
    }

    private static byte[] binding(String purposeName, String tenant) {
        byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
        byte[] purpose = purposeName.getBytes(StandardCharsets.US_ASCII);
        byte[] aad = new byte[purpose.length + 2 + t.length + DEK_ID.length];
        System.arraycopy(purpose, 0, aad, 0, purpose.length);
        aad[purpose.length + 1] = (byte) t.length;
        System.arraycopy(t, 0, aad, purpose.length + 2, t.length);
        System.arraycopy(DEK_ID, 0, aad, purpose.length + 2 + t.length, DEK_ID.length);
        return aad;
    }

    private static String name() {
        return "tenant-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Test
    void theEncryptionContext_namesTenantPurposeDekAndVersion_asCloudTrailShowsIt() {
        assertThat(EncryptionContexts.of(dekBinding("acme.eu"), 3))
                .containsExactly(
                        Map.entry("embedseal:purpose", "embedseal.dek.v1"),
                        Map.entry("embedseal:tenant", "acme.eu"),
                        Map.entry("embedseal:id", "0f0e0d0c0b0a09080706050403020100"),
                        Map.entry("embedseal:kek-version", "3"));
        assertThat(EncryptionContexts.rebuild(EncryptionContexts.of(dekBinding("acme.eu"), 3)))
                .isEqualTo(dekBinding("acme.eu"));
        // Data of another shape is bound whole.
        assertThat(EncryptionContexts.of("other".getBytes(StandardCharsets.US_ASCII), 1))
                .containsExactly(Map.entry("embedseal:aad", "b3RoZXI="), Map.entry("embedseal:kek-version", "1"));
    }

    /**
     * The attack: a DEK wrapped for one tenant, presented as another tenant's (the store or a producer copies the
     * wrapped DEK into another tenant's envelope). Without the encryption context AWS opens it; with it, AWS refuses.
     */
    @Test
    void aWrapForOneTenant_presentedAsAnothers_opensOnlyWithoutTheEncryptionContext() {
        String key = name();
        kms.createKek(key);
        AwsKms undefended = AwsKms.withoutEncryptionContext(kms.settings());
        try {
            WrappedDek w = undefended.wrapDek(key, DEK, dekBinding("acme"));
            assertThat(undefended.unwrapDek(w.kek(), w.wrapped(), dekBinding("evil")))
                    .as("the defence off: another tenant's binding opens the DEK")
                    .isEqualTo(DEK);
        } finally {
            undefended.close();
        }

        WrappedDek w = kms.wrapDek(key, DEK, dekBinding("acme"));
        assertThatThrownBy(() -> kms.unwrapDek(w.kek(), w.wrapped(), dekBinding("evil")))
                .isInstanceOf(InvalidWrappedKeyException.class);
        assertThatThrownBy(() -> kms.unwrapDek(w.kek(), w.wrapped(), binding("embedseal.index-key.v1", "acme")))
                .as("another purpose")
                .isInstanceOf(InvalidWrappedKeyException.class);
        assertThat(kms.unwrapDek(w.kek(), w.wrapped(), dekBinding("acme"))).isEqualTo(DEK);
    }

    /**
     * What a wrap and an unwrap cost in AWS requests (AWS charges per request): counted in moto's request log, the
     * figures docs/key-management.md's cost estimate uses.
     */
    @Test
    void aWrapIsThreeRequests_anUnwrapOne() throws Exception {
        String key = name();
        kms.createKek(key);
        long before = requestsSettled();
        WrappedDek w = kms.wrapDek(key, DEK, dekBinding("acme"));
        long wrap = requestsSettled() - before;
        kms.unwrapDek(w.kek(), w.wrapped(), dekBinding("acme"));
        long unwrap = requestsSettled() - before - wrap;
        System.out.printf(
                "AWS KMS requests: wrap %d (DescribeKey, ListKeyRotations, Encrypt), unwrap %d (Decrypt)%n",
                wrap, unwrap);
        assertThat(wrap).isEqualTo(3);
        assertThat(unwrap).isEqualTo(1);
    }

    /** Requests moto has logged, once the count has not moved for 300 ms (its log is written as it answers). */
    private static long requestsSettled() throws Exception {
        long last = -1;
        long count = requests();
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
        while (count != last && System.nanoTime() < deadline) {
            Thread.sleep(300);
            last = count;
            count = requests();
        }
        return count;
    }

    private static long requests() throws java.io.IOException {
        try (var lines = java.nio.file.Files.lines(Moto.shared().logFile())) {
            return lines.filter(l -> l.contains("POST / HTTP")).count();
        }
    }

    @Test
    void keyNames_becomeAliasesOneToOne() {
        String dotted = name() + ".eu";
        String lookalike = dotted.replace(".", "_2e");
        kms.createKek(dotted);
        kms.createKek(lookalike);

        String prefix = "alias/" + settings.get("kms.aws.alias-prefix");
        assertThat(kms.keyId(dotted)).isEqualTo(prefix + dotted.replace(".", "_2e"));
        assertThat(kms.keyId(lookalike)).isEqualTo(prefix + lookalike.replace("_", "_5f"));
        WrappedDek w = kms.wrapDek(dotted, DEK, dekBinding("acme"));
        assertThatThrownBy(() -> kms.unwrapDek(new KekRef("aws", lookalike, 1), w.wrapped(), dekBinding("acme")))
                .isInstanceOf(InvalidWrappedKeyException.class);
        assertThat(kms.unwrapDek(w.kek(), w.wrapped(), dekBinding("acme"))).isEqualTo(DEK);
    }

    /**
     * Bring your own key: the tenant's key lives in its own account and is named by its ARN. embedseal uses it, cannot
     * administer it, and the tenant's DisableKey stops every unwrap: the tenant alone decides.
     */
    @Test
    void aTenantsOwnKey_namedByArn_isUsed_notAdministered_andItsOwnerRevokes() {
        String arn = tenantAccount
                .createKey(r -> r.description("acme's own key"))
                .keyMetadata()
                .arn();

        KekRef registered = kms.createKek(arn);
        WrappedDek w = kms.wrapDek(arn, DEK, dekBinding("acme"));

        assertThat(registered).isEqualTo(new KekRef("aws", arn, 1));
        assertThat(kms.unwrapDek(w.kek(), w.wrapped(), dekBinding("acme"))).isEqualTo(DEK);
        for (KmsOperation op : new KmsOperation[] {KmsOperation.ROTATE, KmsOperation.DISABLE, KmsOperation.DESTROY}) {
            assertThatThrownBy(() -> {
                        switch (op) {
                            case ROTATE -> kms.rotate(arn);
                            case DISABLE -> kms.disable(arn);
                            default -> kms.destroy(arn);
                        }
                    })
                    .isInstanceOfSatisfying(
                            UnsupportedKmsOperationException.class,
                            e -> assertThat(e.getMessage())
                                    .contains("tenant's own AWS account")
                                    .contains("--key-id " + arn));
        }

        tenantAccount.disableKey(r -> r.keyId(arn));

        assertThatThrownBy(() -> kms.unwrapDek(w.kek(), w.wrapped(), dekBinding("acme")))
                .isInstanceOf(KeyDeniedException.class)
                .hasMessageContaining("disabled");
        assertThatThrownBy(() -> kms.wrapDek(arn, DEK, dekBinding("acme"))).isInstanceOf(KeyDeniedException.class);
        tenantAccount.enableKey(r -> r.keyId(arn));
        assertThat(kms.unwrapDek(w.kek(), w.wrapped(), dekBinding("acme"))).isEqualTo(DEK);
    }

    /** On AWS a destroyed key is pending deletion for the waiting period: unusable at once, deleted when it ends. */
    @Test
    void destroy_schedulesTheDeletion_theKeyIsDestroyedForEmbedsealAtOnce_andTheNoteSaysWhenItEnds() {
        String key = name();
        kms.createKek(key);
        WrappedDek w = kms.wrapDek(key, DEK, dekBinding("acme"));

        kms.destroy(key);
        kms.destroy(key); // again: nothing more to do

        assertThatThrownBy(() -> kms.describe(key))
                .isInstanceOf(UnknownKeyException.class)
                .hasMessageContaining("scheduled for deletion");
        assertThatThrownBy(() -> kms.unwrapDek(w.kek(), w.wrapped(), dekBinding("acme")))
                .isInstanceOf(UnknownKeyException.class);
        assertThatThrownBy(() -> kms.wrapDek(key, DEK, dekBinding("acme"))).isInstanceOf(UnknownKeyException.class);
        String note = kms.destructionNote(key).orElseThrow();
        assertThat(note)
                .contains("7 days")
                .contains("kms.aws.pending-window-days")
                .contains("cancel-key-deletion");
        Instant when = tenantAccount
                .describeKey(r -> r.keyId(kms.keyId(key)))
                .keyMetadata()
                .deletionDate();
        assertThat(when)
                .isBetween(
                        Instant.now().plus(Duration.ofDays(7)).minus(1, ChronoUnit.HOURS),
                        Instant.now().plus(Duration.ofDays(7)).plus(1, ChronoUnit.HOURS));
        assertThat(note).contains(when.toString());
    }

    @Test
    void signingKeys_signInsideAwsKms_andTheJdkVerifies() throws Exception {
        SigningKeys signing = kms.signingKeys().orElseThrow();
        String key = "operator-signing-" + UUID.randomUUID().toString().substring(0, 8);
        signing.createSigningKey(key);
        signing.createSigningKey(key); // idempotent
        byte[] message = new byte[10_000]; // longer than Sign takes raw: the digest is what is sent
        message[0] = 1;

        byte[] signature = signing.sign(key, message);

        Signature v = Signature.getInstance("SHA256withECDSA");
        v.initVerify(signing.publicKey(key));
        v.update(message);
        assertThat(v.verify(signature)).isTrue();
        message[1] = 1;
        v.initVerify(signing.publicKey(key));
        v.update(message);
        assertThat(v.verify(signature)).as("an altered message").isFalse();
    }

    @Test
    void aSigningKeyIsNoKek_andAKekNoSigningKey() {
        String kek = name();
        String signingKey = "signing-" + UUID.randomUUID().toString().substring(0, 8);
        kms.createKek(kek);
        kms.signingKeys().orElseThrow().createSigningKey(signingKey);

        assertThatThrownBy(() -> kms.signingKeys().orElseThrow().createSigningKey(kek))
                .isExactlyInstanceOf(io.embedseal.keyring.kms.KmsException.class)
                .hasMessageContaining("not an ECC_NIST_P256 signing key");
        assertThatThrownBy(() -> kms.signingKeys().orElseThrow().publicKey(kek))
                .isExactlyInstanceOf(io.embedseal.keyring.kms.KmsException.class);
        assertThatThrownBy(() -> kms.wrapDek(signingKey, DEK, dekBinding("acme")))
                .isExactlyInstanceOf(io.embedseal.keyring.kms.KmsException.class)
                .hasMessageContaining("not a symmetric encryption key (ECC_NIST_P256)");
        assertThat(tenantAccount.listAliases().aliases().stream().map(AliasListEntry::aliasName))
                .contains(kms.keyId(kek), kms.keyId(signingKey));
    }

    /** A key embedseal manages under a name is not registered a second time by its ARN (one key, one tenant). */
    @Test
    void anEmbedsealKeyNamedByItsArn_isRefused() {
        String key = name();
        kms.createKek(key);
        String arn = tenantAccount
                .describeKey(r -> r.keyId(kms.keyId(key)))
                .keyMetadata()
                .arn();

        assertThatThrownBy(() -> kms.createKek(arn))
                .isExactlyInstanceOf(io.embedseal.keyring.kms.KmsException.class)
                .hasMessageContaining("one key, one name, one tenant");
    }

    /**
     * The KEK version is bound too: AWS picks the key material itself, so without the version in the encryption
     * context a wrap made before a rotation opens under any version it is presented as; with it, only its own.
     */
    @Test
    void aWrapPresentedUnderAnotherVersion_opensOnlyWithoutTheVersionInTheContext() {
        String key = name();
        kms.createKek(key);
        WrappedDek v1 = kms.wrapDek(key, DEK, dekBinding("acme"));
        kms.rotate(key);
        AwsKms undefended = AwsKms.withoutEncryptionContext(kms.settings());
        try {
            WrappedDek old = undefended.wrapDek(key, DEK, dekBinding("acme"));
            assertThat(undefended.unwrapDek(
                            old.kek().withVersion(old.kek().version() + 5), old.wrapped(), dekBinding("acme")))
                    .as("the defence off: a wrap opens under a version it never had")
                    .isEqualTo(DEK);
        } finally {
            undefended.close();
        }
        assertThatThrownBy(() -> kms.unwrapDek(v1.kek().withVersion(2), v1.wrapped(), dekBinding("acme")))
                .isInstanceOf(InvalidWrappedKeyException.class);
    }
}
