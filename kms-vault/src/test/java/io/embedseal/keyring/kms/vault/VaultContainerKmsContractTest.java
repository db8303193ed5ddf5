package io.embedseal.keyring.kms.vault;

import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsContractTest;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.kms.testsupport.OpenBao;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * The same contract against HashiCorp's own {@code hashicorp/vault} image, in dev mode with Transit enabled and the
 * operator's and pipeline's tokens under the deploy/vault policies, as {@link OpenBaoKmsContractTest} runs it on
 * OpenBao. Runs wherever Docker runs; skipped elsewhere.
 */
@DisplayName("KMS contract on vault (real hashicorp/vault in Testcontainers; needs Docker)")
class VaultContainerKmsContractTest extends KmsContractTest {

    static final String IMAGE = "hashicorp/vault:1.18.3";
    private static final String ROOT = "embedseal-root";

    private static GenericContainer<?> vault;
    private static KmsProvider operator;
    private static Kms pipeline;

    @BeforeAll
    static void start() throws Exception {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            docker = false;
        }
        Assumptions.assumeTrue(
                docker,
                "needs a Docker engine to run " + IMAGE + " (Testcontainers); none here, skipped. "
                        + "The same contract ran against OpenBao (OpenBaoKmsContractTest).");
        vault = new GenericContainer<>(IMAGE)
                .withEnv("VAULT_DEV_ROOT_TOKEN_ID", ROOT)
                .withEnv("VAULT_DEV_LISTEN_ADDRESS", "0.0.0.0:8200")
                .withExposedPorts(8200)
                .waitingFor(
                        Wait.forHttp("/v1/sys/health").forStatusCode(200).withStartupTimeout(Duration.ofSeconds(60)));
        vault.start();
        exec("vault", "secrets", "enable", "transit");
        for (String role : OpenBao.ROLES) {
            String hcl = Files.readString(OpenBao.policyFile(role));
            exec(
                    "sh",
                    "-c",
                    "printf '%s' '" + hcl.replace("'", "'\\''") + "' | vault policy write embedseal-" + role + " -");
        }
        String address = "http://" + vault.getHost() + ":" + vault.getMappedPort(8200);
        operator = vaultKms(address, token("operator"));
        pipeline = vaultKms(address, token("pipeline"));
    }

    private static String token(String role) throws Exception {
        return exec("vault", "token", "create", "-policy=embedseal-" + role, "-field=token")
                .strip();
    }

    static KmsProvider vaultKms(String address, String token) {
        return KmsProviderRegistry.create(KmsSettings.of(
                Map.of(
                        "kms.provider", "vault",
                        "kms.vault.address", address,
                        "kms.vault.allow-insecure-http", "true",
                        "kms.vault.token-env", "TEST_VAULT_TOKEN"),
                name -> name.equals("TEST_VAULT_TOKEN") ? token : null));
    }

    @Override
    protected String newKeyName() {
        return "tenant-contract-" + UUID.randomUUID().toString().substring(0, 12);
    }

    private static String exec(String... command) throws Exception {
        Container.ExecResult r = vault.execInContainer(prepend(command));
        if (r.getExitCode() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + r.getStderr());
        }
        return r.getStdout();
    }

    private static String[] prepend(String[] command) {
        String[] full = new String[command.length + 3];
        full[0] = "env";
        full[1] = "VAULT_ADDR=http://127.0.0.1:8200";
        full[2] = "VAULT_TOKEN=" + ROOT;
        System.arraycopy(command, 0, full, 3, command.length);
        return full;
    }

    @AfterAll
    static void stop() {
        if (vault != null) {
            vault.stop();
        }
    }

    @Override
    protected KmsProvider kms() {
        return operator;
    }

    @Override
    protected Kms pipelineKms() {
        return pipeline;
    }
}
