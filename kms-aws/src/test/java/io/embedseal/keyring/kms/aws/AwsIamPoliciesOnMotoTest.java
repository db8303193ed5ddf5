package io.embedseal.keyring.kms.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.aws.dev.MotoKmsServer;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.Moto;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.iam.IamClient;
import software.amazon.awssdk.services.iam.model.AccessKey;

/**
 * The IAM policies docs/key-management.md tells AWS users to write (deploy/aws/embedseal-{pipeline,sink,operator}.json),
 * as IAM users on a moto server that checks identity policies. moto evaluates a policy's actions, not its resources or
 * conditions (the alias and key-spec conditions are AWS's to check), so those are taken out here and what is shown is that each role has the actions it needs and none it must not: the pipeline and the sinks cannot administer
 * a key, the operator can administer but neither wrap nor unwrap.
 */
class AwsIamPoliciesOnMotoTest {

    private static final byte[] DEK = new byte[32];
    private static final byte[] AAD = "embedseal.dek.v1|acme|iam-test".getBytes(StandardCharsets.US_ASCII);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static MotoKmsServer server;
    private static KmsProvider operator;
    private static KmsProvider pipeline;
    private static KmsProvider sink;
    private static Map<String, String> settings;

    @BeforeAll
    static void start() throws Exception {
        // Three users, each: CreateUser, PutUserPolicy, CreateAccessKey. From the tenth request on, moto checks IAM.
        server = MotoKmsServer.start(
                Moto.python(),
                Files.createTempDirectory("embedseal-moto-iam"),
                Map.of("INITIAL_NO_AUTH_ACTION_COUNT", "9"));
        settings = Moto.settings(server);
        try (IamClient iam = IamClient.builder()
                .region(Region.AWS_GLOBAL)
                .endpointOverride(URI.create(server.endpoint()))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIASETUP", "x")))
                .build()) {
            operator = provider(iam, "operator");
            pipeline = provider(iam, "pipeline");
            sink = provider(iam, "sink");
        }
    }

    @AfterAll
    static void stop() {
        for (KmsProvider p : new KmsProvider[] {operator, pipeline, sink}) {
            if (p != null) {
                p.close();
            }
        }
        if (server != null) {
            server.close();
        }
    }

    private static KmsProvider provider(IamClient iam, String role) throws Exception {
        String user = "embedseal-" + role;
        iam.createUser(r -> r.userName(user));
        String policy = actionsOnly(role);
        iam.putUserPolicy(r -> r.userName(user).policyName(user).policyDocument(policy));
        AccessKey key = iam.createAccessKey(r -> r.userName(user)).accessKey();
        Map<String, String> env =
                Map.of("AWS_ACCESS_KEY_ID", key.accessKeyId(), "AWS_SECRET_ACCESS_KEY", key.secretAccessKey());
        return KmsProviderRegistry.create(KmsSettings.of(new HashMap<>(settings), env::get));
    }

    /**
     * deploy/aws/embedseal-{role}.json as written, with what moto cannot evaluate taken out: the conditions, and the
     * resources (moto matches a statement's resource against "*" only).
     */
    private static String actionsOnly(String role) throws Exception {
        Path file = policyFile(role);
        JsonNode policy = JSON.readTree(Files.readString(file));
        for (JsonNode statement : policy.get("Statement")) {
            ((ObjectNode) statement).remove("Condition");
            ((ObjectNode) statement).put("Resource", "*");
        }
        return JSON.writeValueAsString(policy);
    }

    private static Path policyFile(String role) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path f = dir.resolve("deploy/aws/embedseal-" + role + ".json");
            if (Files.isRegularFile(f)) {
                return f;
            }
        }
        throw new IllegalStateException(
                "no deploy/aws/embedseal-" + role + ".json above " + Path.of("").toAbsolutePath());
    }

    @Test
    void eachRoleCanDoWhatItNeeds_andNothingItMustNot() {
        operator.createKek("tenant-acme");
        SigningKeys signing = operator.signingKeys().orElseThrow();
        signing.createSigningKey("embedseal-operator-signing");
        assertThat(signing.sign("embedseal-operator-signing", new byte[] {1})).isNotEmpty();

        WrappedDek w = pipeline.wrapDek("tenant-acme", DEK, AAD);
        assertThat(pipeline.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
        assertThat(sink.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
        assertThat(sink.wrapDek("tenant-acme", DEK, AAD).kek()).isEqualTo(w.kek()); // Lucene index keys
        assertThat(pipeline.signingKeys().orElseThrow().publicKey("embedseal-operator-signing"))
                .isEqualTo(signing.publicKey("embedseal-operator-signing"));

        for (KmsProvider user : new KmsProvider[] {pipeline, sink}) {
            assertThatThrownBy(() -> user.rotate("tenant-acme")).isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> user.disable("tenant-acme")).isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> user.destroy("tenant-acme")).isInstanceOf(KeyDeniedException.class);
            assertThatThrownBy(() -> user.createKek("tenant-other")).isInstanceOf(KeyDeniedException.class);
            // Which key each role may sign with (its own audit key only) is a condition on the key's alias: AWS
            // checks it, moto cannot, so it is not shown here.
        }
        assertThatThrownBy(() -> operator.unwrapDek(w.kek(), w.wrapped(), AAD))
                .as("an operator opens no tenant's data")
                .isInstanceOf(KeyDeniedException.class);
        assertThatThrownBy(() -> operator.wrapDek("tenant-acme", DEK, AAD)).isInstanceOf(KeyDeniedException.class);
        assertThat(operator.rotate("tenant-acme").version()).isEqualTo(2);
        operator.disable("tenant-acme");
        assertThatThrownBy(() -> sink.unwrapDek(w.kek(), w.wrapped(), AAD)).isInstanceOf(KeyDeniedException.class);
        operator.enable("tenant-acme");
        assertThat(sink.unwrapDek(w.kek(), w.wrapped(), AAD)).isEqualTo(DEK);
    }

    /** An access key AWS does not know is embedseal's own credential problem, not every tenant's revocation. */
    @Test
    void anUnknownAccessKey_isUnavailable_notADenial() {
        Map<String, String> env = Map.of("AWS_ACCESS_KEY_ID", "AKIANOBODY", "AWS_SECRET_ACCESS_KEY", "x");
        try (KmsProvider nobody = KmsProviderRegistry.create(KmsSettings.of(new HashMap<>(settings), env::get))) {
            assertThatThrownBy(() -> nobody.describe("tenant-acme"))
                    .isInstanceOf(KmsUnavailableException.class)
                    .hasMessageContaining("UnrecognizedClientException");
        }
    }
}
