package io.embedseal.keyring.kms.pkcs11;

import io.embedseal.keyring.kms.KmsContractTest;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.kms.testsupport.SoftHsm;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;

@DisplayName("KMS contract on pkcs11 (SoftHSM2 token through SunPKCS11)")
class Pkcs11SoftHsmKmsContractTest extends KmsContractTest {

    private static KmsProvider kms;

    @BeforeAll
    static void start() {
        kms = KmsProviderRegistry.create(KmsSettings.of(SoftHsm.sharedToken().settings()));
    }

    @AfterAll
    static void stop() {
        if (kms != null) {
            kms.close();
        }
    }

    @Override
    protected KmsProvider kms() {
        return kms;
    }
}
