package io.embedseal.keyring.kms.vault;

import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsContractTest;
import io.embedseal.keyring.kms.KmsProvider;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;

/**
 * The same contract against the real {@code hashicorp/vault} image, in dev mode with Transit enabled and a
 * pipeline token under the least-privilege policy. Runs wherever Docker runs; skipped elsewhere.
 */
@DisplayName("KMS contract on vault (real hashicorp/vault in Testcontainers; needs Docker)")
class VaultContainerKmsContractTest extends KmsContractTest {

    static final String IMAGE = "hashicorp/vault:1.18.3";
    private static final String ROOT = "embedseal-root";
    static final String PIPELINE_POLICY = """
            path "transit/keys/*" { capabilities = ["read"] }
            path "transit/encrypt/*" { capabilities = ["update"] }
            path "transit/decrypt/*" { capabilities = ["update"] }
            """;

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
                        + "The same contract ran against the Vault stand-in.");
        vault = new GenericContainer<>(IMAGE)
                .withEnv("VAULT_DEV_ROOT_TOKEN_ID", ROOT)
                .withEnv("VAULT_DEV_LISTEN_ADDRESS", "0.0.0.0:8200")
                .withExposedPorts(8200)
                .waitingFor(
                        Wait.forHttp("/v1/sys/health").forStatusCode(200).withStartupTimeout(Duration.ofSeconds(60)));
        vault.start();
        exec("vault", "secrets", "enable", "transit");
        exec("sh", "-c", "printf '%s' '" + PIPELINE_POLICY.replace("'", "'\\''") + "' | vault policy write pipeline -");
        String pipelineToken = exec("vault", "token", "create", "-policy=pipeline", "-field=token")
                .strip();
        String address = "http://" + vault.getHost() + ":" + vault.getMappedPort(8200);
        operator = VaultStandInKmsContractTest.vaultKms(address, ROOT);
        pipeline = VaultStandInKmsContractTest.vaultKms(address, pipelineToken);
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
