package io.embedseal.app.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.app.CliRun;
import io.embedseal.control.KeyEvents;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bring your own key on Vault Transit (a real OpenBao server): the tenant creates its key, the pipeline's
 * least-privilege token (read keys, encrypt, decrypt) proves at onboarding that it can use it; lifecycle
 * operations need an operator token, and revoking on Vault says what the key's owner must do on their side.
 */
class OperatorCliVaultTest {

    @TempDir
    Path dir;

    static CliRun cli(Path config, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--config", config.toString(), "--actor", "vault-test"));
        return CliRun.run(all.toArray(String[]::new));
    }

    Path config(String prefix, OpenBao.Namespace vault, String role, String token) throws Exception {
        Path tokenFile = dir.resolve(role + ".token");
        Files.writeString(tokenFile, token);
        Path f = dir.resolve(role + ".properties");
        Files.writeString(
                f,
                String.join(
                        "\n",
                        "bootstrap.servers=" + EmbeddedKafkaBroker.shared().bootstrapServers(),
                        "topics.key-events=" + prefix + "events",
                        "topics.audit=" + prefix + "audit",
                        "topics.sealed=" + prefix + "sealed",
                        "topics.raw=" + prefix + "raw",
                        "topics.dlq=" + prefix + "dlq",
                        "kms.provider=vault",
                        "kms.vault.address=" + vault.server().address(),
                        "kms.vault.allow-insecure-http=true",
                        "kms.vault.namespace=" + vault.name(),
                        "kms.vault.token-file=" + tokenFile,
                        ""));
        return f;
    }

    @Test
    void tenantsOwnVaultKey_isOnboardedWithThePipelinesToken_andManagedWithTheOperatorsToken() throws Exception {
        String prefix = "byok-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        EmbeddedKafkaBroker.shared().createTopic(prefix + "events", 1, Map.of("cleanup.policy", "compact"));
        EmbeddedKafkaBroker.shared().createTopic(prefix + "audit", 1, Map.of());
        // The tenant's own Vault namespace: the pipeline's token is granted its one key
        // (deploy/vault/embedseal-pipeline-acme.hcl, as docs/operations.md tells the tenant); the tenant's
        // admin (here the root token) manages the key. The onboarding identity also signs the REGISTERED event
        // with the operator's signing key (the operator policy's grant on transit/sign/embedseal-*).
        OpenBao.Namespace vault = OpenBao.namespace();
        vault.writePolicy("embedseal-pipeline-acme", OpenBao.policyFile("pipeline-acme"));
        Path pipelineConfig =
                config(prefix, vault, "pipeline", vault.token("embedseal-pipeline-acme", "embedseal-operator"));
        Path operatorConfig = config(prefix, vault, "owner", vault.rootToken());

        CliRun noKey = cli(pipelineConfig, "tenants", "add", "--tenant", "acme", "--key-name", "acme-own-key");
        assertThat(noKey.code()).isEqualTo(1);
        assertThat(noKey.err()).contains("has no key acme-own-key");

        // The tenant creates its key in Vault (here with the root token, as the tenant's own admin would).
        Map<String, String> rootSettings = new java.util.HashMap<>(vault.settings());
        try (KmsProvider root = KmsProviders.create(KeyringSettings.of(rootSettings, name -> vault.rootToken()))) {
            root.createKek("acme-own-key");
        }
        CliRun added = cli(pipelineConfig, "tenants", "add", "--tenant", "acme", "--key-name", "acme-own-key");
        assertThat(added.code()).as(added.err()).isZero();
        assertThat(added.out())
                .contains("vault:acme-own-key:1 is usable by this KMS identity")
                .contains("REGISTERED");

        CliRun pipelineRotate = cli(pipelineConfig, "keys", "rotate", "--tenant", "acme");
        assertThat(pipelineRotate.code())
                .as("the pipeline's token may not rotate")
                .isEqualTo(1);
        assertThat(pipelineRotate.err()).containsIgnoringCase("denied");

        CliRun rotate = cli(operatorConfig, "keys", "rotate", "--tenant", "acme");
        assertThat(rotate.code()).as(rotate.err()).isZero();
        assertThat(rotate.out()).contains("version 1 -> 2");

        CliRun revoke = cli(operatorConfig, "keys", "revoke", "--tenant", "acme");
        assertThat(revoke.code()).as(revoke.err()).isZero();
        assertThat(revoke.out())
                .contains(
                        "the key's owner revokes by removing the pipeline and sink policies' grant on transit/encrypt/acme-own-key")
                .contains("REVOKED published");

        List<KeyEventType> types = new ArrayList<>();
        TopicReader.read(
                Map.of("bootstrap.servers", EmbeddedKafkaBroker.shared().bootstrapServers()),
                prefix + "events",
                -1,
                r -> {
                    KeyEvent e = KeyEvents.read(new String(r.key(), StandardCharsets.UTF_8), r.value())
                            .event();
                    assertThat(e.getKekName()).isEqualTo("acme-own-key");
                    types.add(e.getType());
                },
                null);
        assertThat(types).containsExactly(KeyEventType.REGISTERED, KeyEventType.ROTATED, KeyEventType.REVOKED);
    }

    /**
     * A tenant that names its own authority (a signing key in its own Vault) at registration decides over its key
     * state alone: the operator's REVOKED is refused by the CLI before anything happens (and would be refused by
     * every reader: KeyEventGateTest), the tenant's own signed REVOKED applies.
     */
    @Test
    void aTenantsOwnAuthority_aloneChangesItsState() throws Exception {
        String prefix = "authority-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        EmbeddedKafkaBroker.shared().createTopic(prefix + "events", 1, Map.of("cleanup.policy", "compact"));
        EmbeddedKafkaBroker.shared().createTopic(prefix + "audit", 1, Map.of());
        OpenBao.Namespace vault = OpenBao.namespace();
        vault.writePolicy("embedseal-pipeline-acme", OpenBao.policyFile("pipeline-acme"));
        vault.writePolicy("embedseal-tenant-authority-acme", OpenBao.policyFile("tenant-authority-acme"));
        try (KmsProvider root = KmsProviders.create(KeyringSettings.of(vault.settings(), name -> vault.rootToken()))) {
            root.createKek("acme-own-key");
            root.signingKeys().orElseThrow().createSigningKey("acme-authority");
        }
        Path onboarding =
                config(prefix, vault, "onboarding", vault.token("embedseal-pipeline-acme", "embedseal-operator"));
        Path operator = config(prefix, vault, "owner", vault.rootToken());
        Path tenant = config(prefix, vault, "tenant", vault.token("embedseal-tenant-authority-acme"));

        CliRun pem = cli(tenant, "keys", "signing-key", "--key", "acme-authority");
        assertThat(pem.code()).as(pem.err()).isZero();
        Path pemFile = dir.resolve("acme-authority.pem");
        Files.writeString(pemFile, pem.out().substring(pem.out().indexOf("-----BEGIN PUBLIC KEY-----")));
        String authorityId = pem.out().replaceAll("(?s).*key id ([0-9a-f]{32}).*", "$1");

        CliRun added = cli(
                onboarding,
                "tenants",
                "add",
                "--tenant",
                "acme",
                "--key-name",
                "acme-own-key",
                "--authority-key",
                pemFile.toString());
        assertThat(added.code()).as(added.err()).isZero();
        assertThat(added.out()).contains("must be signed by key id " + authorityId);

        CliRun byOperator = cli(operator, "keys", "revoke", "--tenant", "acme");
        assertThat(byOperator.code()).isEqualTo(1);
        assertThat(byOperator.err()).contains("named its own authority key").contains("Nothing was changed");

        // The tenant's CLI trusts the operator's registration key, pinned (its token cannot read the operator's
        // Vault keys), and signs with its own.
        String operatorKey;
        try (KmsProvider root = KmsProviders.create(KeyringSettings.of(vault.settings(), name -> vault.rootToken()))) {
            operatorKey = io.embedseal.control.KeyEventSignatures.encode(
                    root.signingKeys().orElseThrow().publicKey(KeyringSettings.DEFAULT_SIGNING_KEY));
        }
        Files.writeString(
                tenant, "kms.events.trusted-signers=" + operatorKey + "\n", java.nio.file.StandardOpenOption.APPEND);
        CliRun byTenant = cli(tenant, "keys", "revoke", "--tenant", "acme", "--sign-with", "acme-authority");
        assertThat(byTenant.code()).as(byTenant.err()).isZero();
        assertThat(byTenant.out()).contains("REVOKED published");

        List<String> signed = new ArrayList<>();
        TopicReader.read(
                Map.of("bootstrap.servers", EmbeddedKafkaBroker.shared().bootstrapServers()),
                prefix + "events",
                -1,
                r -> {
                    KeyEvents.Read e = KeyEvents.read(new String(r.key(), StandardCharsets.UTF_8), r.value());
                    signed.add(e.event().getType() + " #" + e.event().getSequence() + " by " + e.signer());
                },
                null);
        assertThat(signed).hasSize(2);
        assertThat(signed.get(0)).startsWith("REGISTERED #1 by ").doesNotContain(authorityId);
        assertThat(signed.get(1)).isEqualTo("REVOKED #2 by " + authorityId);
    }
}
