package io.embedseal.keyring.kms.aws;

import io.embedseal.keyring.kms.KmsContractTest;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.kms.testsupport.Moto;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;

/**
 * The contract on a real AWS KMS API: moto's server, with the key-state rules AWS documents that moto lacks added
 * (aws-dev's moto_kms.py). moto does not enforce IAM or key policies, so one identity plays every role here.
 */
@DisplayName("KMS contract on aws (moto's KMS server)")
class MotoKmsContractTest extends KmsContractTest {

    private static KmsProvider kms;

    @BeforeAll
    static void start() {
        kms = KmsProviderRegistry.create(KmsSettings.of(Moto.settings(), Moto.environment()::apply));
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
