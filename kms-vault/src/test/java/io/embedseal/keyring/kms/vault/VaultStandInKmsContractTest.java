package io.embedseal.keyring.kms.vault;

import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsContractTest;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.kms.testsupport.VaultTransitStandIn;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;

@DisplayName("KMS contract on vault (local stand-in of the Transit HTTP API, test code)")
class VaultStandInKmsContractTest extends KmsContractTest {

    private static VaultTransitStandIn vault;
    private static KmsProvider operator;
    private static Kms pipeline;

    @BeforeAll
    static void start() {
        vault = VaultTransitStandIn.start();
        operator = vaultKms(vault.address(), VaultTransitStandIn.ROOT_TOKEN);
        pipeline = vaultKms(vault.address(), VaultTransitStandIn.PIPELINE_TOKEN);
    }

    static KmsProvider vaultKms(String address, String token) {
        return KmsProviderRegistry.create(KmsSettings.of(
                Map.of(
                        "kms.provider", "vault",
                        "kms.vault.address", address,
                        "kms.vault.token-env", "TEST_VAULT_TOKEN"),
                name -> name.equals("TEST_VAULT_TOKEN") ? token : null));
    }

    @AfterAll
    static void stop() {
        vault.close();
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
