package io.embedseal.keyring.kms;

import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.kms.testsupport.SoftHsm;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;

@DisplayName("KMS contract on pkcs11 (SoftHSM2 token through SunPKCS11)")
class Pkcs11SoftHsmKmsContractTest extends KmsContractTest {

    private static KmsProvider kms;

    @BeforeAll
    static void start() {
        kms = KmsProviders.create(KeyringSettings.of(SoftHsm.sharedToken().settings()));
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
