package io.embedseal.app.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.app.CliRun;
import io.embedseal.control.KeyEvents;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.kms.testsupport.Moto;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kms.KmsClient;

/**
 * The operator's commands on AWS KMS (moto's server), as docs/key-management.md's AWS section runs them: a tenant
 * onboarded with a key embedseal creates, rotated (RotateKeyOnDemand), revoked (DisableKey), restored and destroyed
 * (ScheduleKeyDeletion, with the waiting period said); a tenant that brings its own key by ARN, whose key embedseal
 * uses but does not administer: revoking it says what the tenant runs in its own account.
 */
class OperatorCliAwsTest {

    @TempDir
    Path dir;

    private Path config(String prefix, Map<String, String> kms) throws Exception {
        Path f = dir.resolve("aws.properties");
        List<String> lines = new ArrayList<>(List.of(
                "bootstrap.servers=" + EmbeddedKafkaBroker.shared().bootstrapServers(),
                "topics.key-events=" + prefix + "events",
                "topics.audit=" + prefix + "audit",
                "topics.sealed=" + prefix + "sealed",
                "topics.raw=" + prefix + "raw",
                "topics.dlq=" + prefix + "dlq"));
        kms.forEach((k, v) -> lines.add(k + "=" + v));
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f;
    }

    private static CliRun cli(Path config, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--config", config.toString(), "--actor", "aws-test"));
        return CliRun.run(all.toArray(String[]::new));
    }

    @Test
    void keysLifecycleOnAws_andATenantsOwnKeyByArn() throws Exception {
        String prefix = "aws-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        EmbeddedKafkaBroker.shared().createTopic(prefix + "events", 1, Map.of("cleanup.policy", "compact"));
        EmbeddedKafkaBroker.shared().createTopic(prefix + "audit", 1, Map.of());
        Map<String, String> kms = Moto.settingsWithCredentialsFile();
        Path config = config(prefix, kms);

        CliRun added = cli(config, "tenants", "add", "--tenant", "acme", "--create-key");
        assertThat(added.code()).as(added.err()).isZero();
        assertThat(added.out()).contains("aws:tenant-acme:1").contains("REGISTERED");

        CliRun rotate = cli(config, "keys", "rotate", "--tenant", "acme");
        assertThat(rotate.code()).as(rotate.err()).isZero();
        assertThat(rotate.out()).contains("version 1 -> 2");

        CliRun revoke = cli(config, "keys", "revoke", "--tenant", "acme");
        assertThat(revoke.code()).as(revoke.err()).isZero();
        assertThat(revoke.out()).contains("REVOKED published");
        try (KmsProvider aws = KmsProviders.create(KeyringSettings.of(kms, name -> null))) {
            assertThat(aws.describe("tenant-acme").state()).isEqualTo(io.embedseal.keyring.kms.KeyState.DISABLED);
        }
        CliRun restore = cli(config, "keys", "restore", "--tenant", "acme");
        assertThat(restore.code()).as(restore.err()).isZero();

        CliRun destroy = cli(config, "keys", "destroy", "--tenant", "acme", "--confirm", "acme", "--skip-count");
        assertThat(destroy.code()).as(destroy.err()).isZero();
        assertThat(destroy.out())
                .contains("AWS KMS deletes key 'tenant-acme'")
                .contains("waiting period of 7 days (kms.aws.pending-window-days)")
                .contains("DESTROYED published");
        try (KmsProvider aws = KmsProviders.create(KeyringSettings.of(kms, name -> null))) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> aws.describe("tenant-acme"))
                    .isInstanceOf(UnknownKeyException.class);
        }

        // Bring your own key: the tenant made it in its own account (here moto's one account) and names it by ARN.
        String arn;
        try (KmsClient tenantsAccount = KmsClient.builder()
                .region(Region.of(kms.get("kms.aws.region")))
                .endpointOverride(URI.create(kms.get("kms.aws.endpoint")))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(
                        Moto.CREDENTIALS.get("AWS_ACCESS_KEY_ID"), Moto.CREDENTIALS.get("AWS_SECRET_ACCESS_KEY"))))
                .build()) {
            arn = tenantsAccount
                    .createKey(r -> r.description("globex's own key"))
                    .keyMetadata()
                    .arn();
        }
        CliRun byok = cli(config, "tenants", "add", "--tenant", "globex", "--key-name", arn);
        assertThat(byok.code()).as(byok.err()).isZero();
        assertThat(byok.out()).contains("aws:" + arn + ":1").contains("REGISTERED");
        CliRun revokeOwn = cli(config, "keys", "revoke", "--tenant", "globex");
        assertThat(revokeOwn.code()).as(revokeOwn.err()).isZero();
        assertThat(revokeOwn.out())
                .contains("tenant's own AWS account")
                .contains("aws kms disable-key --key-id " + arn)
                .contains("REVOKED published");

        List<KeyEventType> types = new ArrayList<>();
        TopicReader.read(
                Map.of("bootstrap.servers", EmbeddedKafkaBroker.shared().bootstrapServers()),
                prefix + "events",
                -1,
                r -> {
                    if (new String(r.key(), StandardCharsets.UTF_8).equals("acme")) {
                        types.add(KeyEvents.read(new String(r.key(), StandardCharsets.UTF_8), r.value())
                                .event()
                                .getType());
                    }
                },
                null);
        assertThat(types)
                .containsExactly(
                        KeyEventType.REGISTERED,
                        KeyEventType.ROTATED,
                        KeyEventType.REVOKED,
                        KeyEventType.RESTORED,
                        KeyEventType.DESTROYED);
    }
}
